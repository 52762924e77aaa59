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


def _ref(model: type[BaseModel], components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    # A recursive model (a ticket's `next` ticket) comes back as a bare $ref to its own
    # definition, which the loop above already stored.
    if model.__name__ not in components or "$ref" not in schema:
        components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi(routes: list[BaseRoute]) -> dict:
    components: dict = {"Error": ERROR_SCHEMA}
    paths: dict = {}
    for route in routes:
        doc = getattr(route, "api_doc", None)
        if doc is None or not isinstance(route, Route):
            continue
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", route.path)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
            for name, text in doc.query.items()
        ]
        op: dict = {"summary": doc.summary, "tags": [doc.tag], "parameters": params, "responses": {}}
        if doc.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(doc.body, components)}},
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
        for status in doc.errors:
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
