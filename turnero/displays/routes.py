"""The public lobby board: the JSON snapshot and its live WebSocket channel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from turnero.core.api import ApiDoc, api_route
from turnero.core.errors import ApiError
from turnero.core.http import json_response
from turnero.core.service import get_office
from turnero.core.bus import encode
from turnero.displays.schemas import BoardOut
from turnero.displays.service import board_snapshot

# Close codes in the private range: 4404 unknown office (the page stops retrying).
CLOSE_UNKNOWN_OFFICE = 4404


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


async def board_socket(websocket: WebSocket) -> None:
    """`/ws/offices/{office}/board`: public like the board (ticket numbers only); with
    `?ticket=<public id>` of one of its tickets, also that ticket's own updates."""
    try:
        office = await get_office(websocket.path_params["office"])
    except ApiError as exc:
        await websocket.accept()
        await websocket.send_text(encode({"type": "error", "error": {"code": exc.code, "message": exc.message}}))
        await websocket.close(code=CLOSE_UNKNOWN_OFFICE)
        return
    hub = websocket.app.state.board_hub
    # A citizen's ticket page: `?ticket=<id>` adds personal `ticket.update` messages.
    followed = await hub.following(office, websocket.query_params.get("ticket"))
    await websocket.accept()
    feed = hub.feed_for(office)
    del office  # the feed holds its own: thousands of idle screens need not hold one each
    await hub.serve(websocket, feed, followed)


websocket_routes = [WebSocketRoute("/ws/offices/{office}/board", board_socket)]
