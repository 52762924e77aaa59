"""The OpenAPI 3.1 document, built from the routes' ApiDoc and their pydantic schemas."""

from __future__ import annotations

import re

from pydantic import BaseModel
from starlette.routing import BaseRoute, Route

from turnero import __version__

_ERROR_TEXT = {
    400: "Solicitud mal formada",
    401: "Sin credenciales o credenciales inválidas",
    403: "No permitido",
    404: "No existe",
    409: "Conflicto con el estado actual",
    413: "Solicitud demasiado grande",
    422: "Valores inválidos",
    429: "Demasiadas solicitudes",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


# What the boundary check (core/api.py) lets through, said in the schema so that a client
# or a fuzzer following the document never sends what is refused: text without NUL or
# other control characters; tab, line feed and carriage return only inside body text.
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def _constrain_text(schema) -> None:
    """Add the text patterns to every free string (and dictionary key) of a request
    schema, and drop the null default of fields that may be omitted but not null."""
    if isinstance(schema, list):
        for item in schema:
            _constrain_text(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("default", 0) is None and schema.get("type") not in (None, "null"):
        # A field that may be omitted but not sent as null (an update's): its absence is
        # no value to document.
        del schema["default"]
    if schema.get("type") == "string" and not ({"pattern", "enum", "const", "format"} & schema.keys()):
        schema["pattern"] = TEXT_PATTERN
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        schema.setdefault("propertyNames", {"pattern": LINE_PATTERN})
    for key, value in schema.items():
        if key in ("properties", "$defs", "patternProperties"):
            for sub in value.values():
                _constrain_text(sub)
        elif isinstance(value, (dict, list)) and key not in ("default", "examples", "enum", "const"):
            _constrain_text(value)


def _store(components: dict, name: str, schema: dict) -> None:
    """Two different schemas under one component name would make one endpoint document
    the other's body (a client following /docs then gets 422): refuse to build."""
    if components.get(name, schema) != schema:
        raise RuntimeError(f"OpenAPI: two different schemas are named {name!r}")
    components[name] = schema


def _ref(model: type[BaseModel], components: dict, *, request: bool = False) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    if request:
        _constrain_text(schema)
    for name, sub in schema.pop("$defs", {}).items():
        _store(components, name, sub)
    # A recursive model (a ticket's `next` ticket) comes back as a bare $ref to its own
    # definition, which the loop above already stored.
    if model.__name__ not in components or "$ref" not in schema:
        _store(components, model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi(routes: list[BaseRoute]) -> dict:
    components: dict = {"Error": ERROR_SCHEMA}
    paths: dict = {}
    for route in routes:
        doc = getattr(route, "api_doc", None)
        if doc is None or not isinstance(route, Route):
            continue
        text = {"type": "string", "pattern": LINE_PATTERN}
        params = [
            {"name": name, "in": "path", "required": True, "schema": dict(text)}
            for name in re.findall(r"{(\w+)}", route.path)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "description": text_, "schema": dict(text)}
            for name, text_ in doc.query.items()
        ]
        op: dict = {"summary": doc.summary, "tags": [doc.tag], "parameters": params, "responses": {}}
        if doc.body is not None:
            # An empty body reads as {}: it is optional when no field is required.
            op["requestBody"] = {
                "required": any(f.is_required() for f in doc.body.model_fields.values()),
                "content": {"application/json": {"schema": _ref(doc.body, components, request=True)}},
            }
        ok: dict = {"description": "OK"}
        if doc.response is not None:
            schema = _ref(doc.response, components)
            if doc.response_list:
                schema = {"type": "array", "items": schema}
            ok["content"] = {"application/json": {"schema": schema}}
        op["responses"][str(doc.success_status)] = ok
        if route.path.endswith("/call-next"):
            op["responses"]["204"] = {"description": "Nadie en espera para esta ventanilla"}
        # What the edge itself may answer: 422 for text with control characters (any
        # parameter or body), 400/413 for a malformed or oversized body, 401/403 when
        # credentials are required.
        statuses = set(doc.errors)
        if params or doc.body is not None:
            statuses.add(422)
        if doc.body is not None:
            statuses |= {400, 413}
        if doc.roles is not None:
            statuses |= {401, 403}
        for status in sorted(statuses):
            op["responses"][str(status)] = {
                "description": _ERROR_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        if doc.roles is not None:
            op["security"] = [{"bearer": []}, {"session": []}]
            op["description"] = "Roles: " + ", ".join(doc.roles)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            paths.setdefault(route.path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Turnero API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "turnero_session"},
            },
        },
    }
