"""Helpers every route uses: read a JSON body into a schema, write JSON out."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from turnero.core.errors import ApiError, invalid, malformed

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
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "cuerpo"
        parts.append(f"{where}: {_message_es(err)}")
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
        return schema.model_validate_json(body, strict=True)
    except ValidationError as exc:
        # json.loads is laxer than pydantic's parser (a BOM, UTF-16, a lone surrogate):
        # what pydantic cannot read is malformed, not a wrong value.
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise malformed() from None
        raise invalid(describe_validation_error(exc)) from None


def json_response(data, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)
