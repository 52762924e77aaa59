"""Login and logout for the browser pages (the same users as the API, a session cookie)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from turnero.core.auth import (
    SESSION_COOKIE,
    Principal,
    current_principal,
    issue_token,
    request_token,
    revoke_token,
    sign_in,
)
from turnero.core.errors import ApiError
from turnero.core.ratelimit import attempts_for
from turnero.core.models import Office, Role
from turnero.core.templating import templates


class PageRedirect(Exception):
    """Raised by page guards; the app turns it into the redirect it carries."""

    def __init__(self, response: Response):
        self.response = response


def not_found_page(request: Request, message: str) -> Response:
    return templates.TemplateResponse(request, "not_found.html", {"message": message}, status_code=404)


async def page_office(request: Request, code: str, *roles: Role) -> tuple[Office, Principal]:
    """The office of a staff page and its user: login and role first, then a 404 page."""
    office = await Office.get_or_none(code=code, active=True)
    principal = await page_principal(request, *roles, office=office)
    if office is None:
        raise PageRedirect(not_found_page(request, f"No existe la oficina «{code}»."))
    return office, principal


def home_for(principal: Principal) -> str:
    if principal.role == Role.KIOSK and principal.office_code:
        return f"/kiosk/{principal.office_code}"
    if principal.role in (Role.OPERATOR, Role.SUPERVISOR) and principal.office_code:
        return f"/desk/{principal.office_code}"
    return "/"


async def page_principal(request: Request, *roles: Role, office: Office | None = None) -> Principal:
    """The signed-in user for a page: to the login form if none, a 403 page if the
    role or office does not fit."""
    principal = await current_principal(request)
    if principal is None:
        # The query too: back to the same day or report after signing in.
        query = request.url.query
        target = quote(request.url.path + (f"?{query}" if query else ""))
        raise PageRedirect(RedirectResponse(f"/login?next={target}", status_code=303))
    allowed = principal.is_admin or principal.role in roles
    if allowed and office is not None:
        allowed = principal.can_act_on(office.id)
    if not allowed:
        raise PageRedirect(
            templates.TemplateResponse(
                request, "forbidden.html", {"principal": principal}, status_code=403
            )
        )
    return principal


def _safe_next(target: str | None) -> str | None:
    # Only local paths: never redirect a signed-in user to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


async def login_form(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(request.query_params.get("next")) or "", "error": None}
    )


async def login_submit(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    nxt = _safe_next(str(form.get("next", "")))
    client = request.client.host if request.client else "?"
    try:
        user = await sign_in(attempts_for(request.app), client, username, password) if username and password else None
    except ApiError as exc:  # too many failures: same form, the limiter's message
        return templates.TemplateResponse(
            request, "login.html", {"next": nxt or "", "error": exc.message, "username": username},
            status_code=exc.status, headers=getattr(exc, "headers", None),
        )
    if user is None:
        return templates.TemplateResponse(
            request, "login.html",
            {"next": nxt or "", "error": "Usuario o contraseña incorrectos.", "username": username},
            status_code=401,
        )
    settings = request.app.state.settings
    token, _row = await issue_token(user, settings.token_ttl_hours)
    principal = Principal(
        user.id, user.username, Role(user.role), user.office_id,
        user.office.code if user.office else None, 0.0,
    )
    response = RedirectResponse(nxt or home_for(principal), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.token_ttl_hours * 3600, httponly=True,
        samesite="strict",
        # Secure whenever the request came over HTTPS: directly, or through a proxy whose
        # X-Forwarded-Proto uvicorn trusts (--forwarded-allow-ips / FORWARDED_ALLOW_IPS).
        secure=settings.secure_cookies or request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    token = request_token(request)
    if token:
        await revoke_token(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def home(request: Request) -> Response:
    principal = await current_principal(request)
    offices = await Office.filter(active=True).order_by("code")
    return templates.TemplateResponse(request, "home.html", {"principal": principal, "offices": offices})


async def page_redirect_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRedirect)
    return exc.response


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]

