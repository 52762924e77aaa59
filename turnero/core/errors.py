"""The API's one error shape: {"error": {"code", "message"}}.

Domain code raises ApiError; the handlers below turn it, malformed requests and any
unexpected fault into that shape so no client ever sees an HTML error page.
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


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
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
