"""The lobby display page `/display/{office}`: a TV across the room.

Public, like the board it shows (ticket numbers only): a screen must come back on its
own every morning without anyone typing a password. The `display` role exists for
API clients that want a token; the page does not need one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnero.core.errors import ApiError
from turnero.core.service import get_office
from turnero.core.templating import templates
from turnero.displays.service import RECENT_CALLS, board_snapshot
from turnero.core.pages import not_found_page


async def display(request: Request) -> Response:
    try:
        office = await get_office(request.path_params["office"])
    except ApiError:
        return not_found_page(request, "No existe esa oficina. Revise la dirección de la pantalla.")
    # Rendered with the current board, so the screen is never blank, even before the
    # live channel connects (and shows the last state if it cannot).
    board = await board_snapshot(office)
    settings = request.app.state.settings
    response = templates.TemplateResponse(
        request,
        "display/board.html",
        {
            "office": office,
            "board": board,
            "boot": {
                "board": board,
                "timezone": office.timezone,
                "ping_seconds": settings.ws_ping_seconds,
                "recent": RECENT_CALLS,
            },
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [Route("/display/{office}", display, methods=["GET"])]
