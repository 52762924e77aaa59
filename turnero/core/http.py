"""Helpers every route uses: read a JSON body into a schema, write JSON out."""

from __future__ import annotations

import json
from datetime import date
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from turnero.core.errors import ApiError, invalid, invalid_text, malformed
from turnero.core.field_names import FIELD_NAMES_ES
from turnero.core.validation import bad_text_in_body

S = TypeVar("S", bound=BaseModel)
MAX_BODY_BYTES = 64 * 1024

# Spanish wording for the pydantic error types a client can trigger.
_MESSAGES_ES = {
    "missing": "falta este campo",
    "extra_forbidden": "campo no permitido",
    "string_type": "debe ser texto",
    "int_type": "debe ser un número entero",
    "int_parsing": "debe ser un número entero",
    "int_from_float": "debe ser un número entero",
    "float_type": "debe ser un número",
    "bool_type": "debe ser true o false",
    "dict_type": "debe ser un objeto",
    "list_type": "debe ser una lista",
    "model_type": "debe ser un objeto",
    "string_too_short": "no puede estar vacío",
    "too_short": "no puede estar vacío",
}


def _message_es(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _MESSAGES_ES:
        return _MESSAGES_ES[kind]
    if kind == "string_too_long":
        return f"admite como máximo {ctx.get('max_length')} caracteres"
    if kind in ("greater_than_equal", "greater_than"):
        return f"debe ser al menos {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"debe ser como máximo {ctx.get('le', ctx.get('lt'))}"
    if kind in ("literal_error", "enum"):
        return f"debe ser uno de: {ctx.get('expected', '')}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def describe_validation_error(exc: ValidationError) -> str:
    """«Datos inválidos — zona horaria (timezone): …»: the field's Spanish name for
    people, its key in brackets for whoever wrote the request."""
    parts = []
    for err in exc.errors()[:5]:
        loc = err.get("loc", ())
        where = ".".join(str(p) for p in loc) or "cuerpo"
        spanish = FIELD_NAMES_ES.get(loc[0]) if loc and isinstance(loc[0], str) else None
        parts.append(f"{spanish} ({where}): {_message_es(err)}" if spanish else f"{where}: {_message_es(err)}")
    return "Datos inválidos — " + "; ".join(parts)


async def read_json(request: Request, schema: type[S]) -> S:
    """Parse the body as `schema`: 400 if it is not a JSON object, 422 if its values are
    wrong (types are strict: "3" is not a number)."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "La solicitud es demasiado grande.")
    if not body.strip():
        body = b"{}"
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[… nested too deep
        raise malformed() from None
    if not isinstance(data, dict):
        raise malformed("El cuerpo debe ser un objeto JSON.")
    try:
        # JSON-mode strict validation: "3" is not an int, but "senior" is a valid enum.
        parsed = schema.model_validate_json(body, strict=True)
    except ValidationError as exc:
        # json.loads is laxer than pydantic's parser (a BOM, UTF-16, a lone surrogate):
        # what pydantic cannot read is malformed, not a wrong value.
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise malformed() from None
        raise invalid(describe_validation_error(exc)) from None
    refuse_control_text(body, parsed)
    return parsed


def refuse_control_text(body: bytes, parsed: BaseModel) -> None:
    """422 `invalid_characters` when a string the schema kept holds NUL or another
    control character (PostgreSQL refuses NUL in text with an error no handler expects;
    SQLite would store it). Tab, line feed and carriage return are text."""
    found = bad_text_in_body(body, parsed)
    if found:
        raise invalid_text(*found)


def json_response(data, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


# ------------------------------------------------------------------ CSRF and security headers
#
# Both are plain ASGI middleware (no response buffering: the SSE/streaming and CSV
# responses pass straight through), wired in turnero/app.py.

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
CSRF_MESSAGE = (
    "Solicitud rechazada: las operaciones con la sesión del navegador deben venir de esta "
    "misma aplicación (origen y tipo de contenido JSON)."
)


def _split_host(host: str, scheme: str) -> tuple[str, int] | None:
    """'Example.org:8443' -> ('example.org', 8443); the scheme's default port when none."""
    host = host.strip().lower()
    if not host:
        return None
    if host.startswith("["):  # [::1]:8000
        end = host.find("]")
        if end < 0:
            return None
        name, rest = host[: end + 1], host[end + 1:]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.partition(":")
    if port_text:
        if not port_text.isdigit():
            return None
        return name, int(port_text)
    default = _DEFAULT_PORTS.get(scheme)
    return (name, default) if default else None


def same_origin(source: str, request_scheme: str, request_host: str) -> bool:
    """Is `source` (an Origin, or a Referer URL) this server as the browser sees it?

    The server is the request's Host header (a proxy must pass it through unchanged, as
    nginx's `proxy_set_header Host $host` does; X-Forwarded-Host is not trusted because
    the app trusts no forwarded header but X-Forwarded-Proto, through uvicorn's
    --forwarded-allow-ips). The scheme must match the request's, except that an https
    page may talk to a plain-http request: a TLS-terminating proxy that sends no
    (trusted) X-Forwarded-Proto."""
    try:
        parts = urlsplit(source.strip())
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return False
    if scheme != request_scheme and not (scheme == "https" and request_scheme == "http"):
        return False
    theirs = _split_host(parts.netloc, scheme)
    # The Host header carries no scheme: its default port is that of the page's scheme.
    ours = _split_host(request_host, scheme)
    return theirs is not None and theirs == ours


class CsrfMiddleware:
    """Refuse a browser-session state change that another site could have forged.

    Only requests the session cookie authenticates are checked: a POST/PUT/PATCH/DELETE
    carrying the session cookie and no `Authorization: Bearer` header (a bearer token
    wins over the cookie, and a request without the cookie acts as nobody). Such a
    request needs
      - an `Origin` of this same server, or when the browser sent no Origin, a `Referer`
        of this server (`Origin: null`, from a sandboxed frame or a file, is refused);
        browsers always send Origin on a cross-origin POST/PUT/PATCH/DELETE, so a
        request with neither header is a non-browser client and passes this step;
      - under /api/, a body, when there is one, of `Content-Type: application/json`: a
        cross-site page can only send JSON through a CORS preflight this server never
        grants, so a `text/plain` or form body is refused whatever its origin.
    The HTML forms (/login, /logout) post url-encoded bodies to same-origin pages: the
    origin check covers them. Refusals are 403 {"error": {"code": "csrf_rejected"}}."""

    def __init__(self, app, cookie_name: str):
        self.app = app
        self.cookie_name = cookie_name

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in _UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        headers = request.headers
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if (scheme.lower() == "bearer" and value.strip()) or not request.cookies.get(self.cookie_name):
            await self.app(scope, receive, send)
            return
        if not self._allowed(scope, headers):
            response = JSONResponse(
                {"error": {"code": "csrf_rejected", "message": CSRF_MESSAGE}}, status_code=403
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _allowed(scope, headers) -> bool:
        req_scheme = scope.get("scheme", "http")
        host = headers.get("host", "")
        origin = headers.get("origin")
        if origin is not None:
            if not same_origin(origin, req_scheme, host):
                return False
        else:
            referer = headers.get("referer")
            if referer is not None and not same_origin(referer, req_scheme, host):
                return False
        if scope["path"].startswith("/api/"):
            length = headers.get("content-length")
            has_body = headers.get("transfer-encoding") is not None or (
                length is not None and length.strip() not in ("", "0")
            )
            if has_body:
                media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if media != "application/json":
                    return False
        return True


# The pages load only their own scripts and styles (no inline <script>, no on*= handler,
# no style="" attribute; data reaches the scripts in <script type="application/json">
# blocks, which are not executed). JS may still set element.style (CSSOM is not inline
# style). connect-src 'self' covers the same-host ws:/wss: of the live boards.
CSP_PAGES = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# /docs: Swagger UI (served from this server) sets inline styles and data: icons.
CSP_DOCS = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    """Content-Security-Policy, X-Frame-Options: DENY, nosniff and Referrer-Policy on
    every HTTP response (pages, API, static files, errors). No page is meant to be
    framed: the lobby display runs full screen in the signage player's browser, not in
    an iframe. A header a route set itself (a page with its own Referrer-Policy) stays."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = CSP_DOCS if path == "/docs" or path.startswith("/docs/") else CSP_PAGES

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(b"content-security-policy", csp.encode())] + list(SECURITY_HEADERS)
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def query_date(request: Request, name: str) -> date | None:
    """The query parameter `name` as a date (AAAA-MM-DD), None when absent or empty; 422
    when it is not one, or not in this century."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise invalid(f"Datos inválidos — {name}: fecha AAAA-MM-DD") from None
    if not (2000 <= value.year < 2100):
        raise invalid(f"Datos inválidos — {name}: fecha fuera de rango")
    return value
