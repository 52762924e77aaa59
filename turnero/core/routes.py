"""Authentication and the public catalogue."""

from __future__ import annotations

from datetime import timezone

from starlette.requests import Request

from turnero.core import brigades, service
from turnero.core.api import ApiDoc, api_route
from turnero.core.auth import issue_token, sign_in
from turnero.core.ratelimit import attempts_for
from turnero.core.errors import invalid, unauthorized
from turnero.core.http import json_response, read_json
from turnero.core.schemas import BrigadeStopOut, ServiceOut, TokenOut, TokenRequest


async def create_token(request: Request):
    body = await read_json(request, TokenRequest)
    client = request.client.host if request.client else "?"
    user = await sign_in(attempts_for(request.app), client, body.username, body.password)
    if user is None:
        raise unauthorized("Usuario o contraseña incorrectos.")
    token, row = await issue_token(user, request.app.state.settings.token_ttl_hours)
    return json_response(
        {
            "token": token,
            "role": str(user.role),
            "office": user.office.code if user.office else None,
            "expires_at": row.expires_at.astimezone(timezone.utc).isoformat(timespec="seconds"),
        }
    )


async def list_services(request: Request):
    return json_response(await service.list_services())


async def list_brigade_stops(request: Request):
    city = request.query_params.get("city")
    if city is not None and not 1 <= len(city.strip()) <= 80:
        raise invalid("city debe tener de 1 a 80 caracteres.")
    return json_response(await brigades.upcoming_stops(city))


routes = [
    api_route(
        "/api/auth/token", "POST", create_token,
        ApiDoc("Obtener un token de acceso", "auth", body=TokenRequest, response=TokenOut, errors=(400, 401, 422, 429)),
    ),
    api_route(
        "/api/services", "GET", list_services,
        ApiDoc("Catálogo de trámites", "catalogue", response=ServiceOut, response_list=True),
    ),
    api_route(
        "/api/brigades", "GET", list_brigade_stops,
        ApiDoc(
            "Brigadas móviles: próximas paradas (las más cercanas primero)", "catalogue",
            response=BrigadeStopOut, response_list=True, errors=(422,),
            query={"city": "municipio de la parada o ciudad de la brigada (sin distinguir mayúsculas ni tildes)"},
        ),
    ),
]

