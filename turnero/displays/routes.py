"""The public lobby board."""

from __future__ import annotations

from starlette.requests import Request

from turnero.core.api import ApiDoc, api_route
from turnero.core.http import json_response
from turnero.core.service import get_office
from turnero.displays.schemas import BoardOut
from turnero.displays.service import board_snapshot


async def board(request: Request):
    office = await get_office(request.path_params["office"])
    return json_response(await board_snapshot(office))


routes = [
    api_route(
        "/api/offices/{office}/board", "GET", board,
        ApiDoc("Pantalla de sala: llamados recientes, espera por trámite, ventanillas", "displays",
               response=BoardOut, errors=(404,)),
    ),
]
