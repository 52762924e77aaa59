"""The API's one error shape: {"error": {"code", "message"}}.

Domain code raises ApiError; the handlers below turn it, malformed requests and any
unexpected fault into that shape so no API client ever sees an HTML error page. A
browser asking for a page that does not exist (not under /api/, `Accept` preferring
text/html) gets the Spanish 404 (or 405) page instead.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("turnero")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def malformed(message: str = "El cuerpo de la solicitud no es JSON válido.") -> ApiError:
    return ApiError(400, "malformed_request", message)


def invalid(message: str, code: str = "validation_error", **extra) -> ApiError:
    return ApiError(422, code, message, **extra)


def invalid_text(where: str, reason: str) -> ApiError:
    """Text with NUL or another control character (core/validation.py says why)."""
    return invalid(f"Datos inválidos — {where}: {reason}", "invalid_characters")


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def unauthorized(message: str = "Se requiere iniciar sesión (token válido).") -> ApiError:
    return ApiError(401, "unauthorized", message)


def forbidden(message: str = "No tiene permiso para esta operación.") -> ApiError:
    return ApiError(403, "forbidden", message)


def error_body(code: str, message: str, **extra) -> dict:
    body = {"code": code, "message": message}
    body.update(extra)
    return {"error": body}


def error_response(status: int, code: str, message: str, **extra) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status)


_HTTP_CODES = {
    400: ("malformed_request", "Solicitud mal formada."),
    401: ("unauthorized", "Se requiere iniciar sesión."),
    403: ("forbidden", "No tiene permiso para esta operación."),
    404: ("not_found", "No existe el recurso solicitado."),
    405: ("method_not_allowed", "Método no permitido para este recurso."),
    413: ("payload_too_large", "La solicitud es demasiado grande."),
}


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status, exc.code, exc.message, **exc.extra)
    headers = getattr(exc, "headers", None)
    if headers:  # e.g. Retry-After on a 429
        response.headers.update(headers)
    return response


def _quality(media_range: str) -> tuple[str, float]:
    kind, *params = (part.strip() for part in media_range.split(";"))
    q = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = max(0.0, min(1.0, float(value)))
            except ValueError:
                q = 0.0
    return kind.lower(), q


def prefers_html(request: Request) -> bool:
    """A browser asking for a page: not under /api/, and `Accept` names text/html (or
    XHTML) at least as high as JSON or a wildcard. `*/*` alone (curl, httpx, fetch)
    and anything asking for JSON keep the API's error shape."""
    if request.url.path == "/api" or request.url.path.startswith("/api/"):
        return False
    html = other = 0.0
    for media_range in request.headers.get("accept", "").split(","):
        if not media_range.strip():
            continue
        kind, q = _quality(media_range)
        if kind in ("text/html", "application/xhtml+xml"):
            html = max(html, q)
        elif kind in ("application/json", "application/*", "*/*"):
            other = max(other, q)
    return html > 0 and html >= other


# The Spanish pages a browser gets instead of the JSON error (templates/).
_HTML_PAGES = {404: "not_found.html", 405: "method_not_allowed.html"}


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    if exc.status_code in _HTML_PAGES and prefers_html(request):
        # Lazy: Jinja's environment loads only when an HTML error page is drawn
        # (every command-line command imports this module; `turnero --help` stays quick).
        from turnero.core.templating import templates

        response = templates.TemplateResponse(request, _HTML_PAGES[exc.status_code], {"message": None},
                                              status_code=exc.status_code)
    else:
        response = error_response(exc.status_code, code, message)
    if exc.headers:  # e.g. the Allow header a 405 must carry
        response.headers.update(exc.headers)
    return response


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Error interno; intente nuevamente.")


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    HTTPException: http_exception_handler,
    Exception: unexpected_error_handler,
}
