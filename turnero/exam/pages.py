"""Exam pages: the proctor's rooms and sessions, the room board, and the seat kiosk.

The seat page is opened on each exam computer by its unguessable link
(/exam/seat/{token}, listed on the board); it needs no login and shows only the exam
assigned to that seat. Proctor pages need a staff user of the office.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnero.core import clock
from turnero.core.errors import ApiError
from turnero.core.models import Role
from turnero.core.pages import PageRedirect, page_principal
from turnero.core.templating import templates
from turnero.exam import seat_links
from turnero.exam.policy import CATEGORIES, CATEGORY_NAMES
from turnero.exam.rooms import day_sessions, get_session, office_rooms
from turnero.exam.routes import exam_config
from turnero.scheduler.config import config_of as scheduler_config_of
from turnero.exam.views import board_view, seat_view
from turnero.core.pages import not_found_page, page_office

PROCTORS = (Role.OPERATOR, Role.SUPERVISOR)


async def rooms_page(request: Request) -> Response:
    office, principal = await page_office(request, request.path_params["office"], *PROCTORS)
    rooms = []
    for room in await office_rooms(office):
        room.office = office
        seats = sorted(room.seats, key=lambda s: s.number)
        rooms.append({
            "room": room, "seats": len(seats), "in_service": sum(1 for s in seats if s.in_service),
            "sessions": [
                {"id": s.id, "label": f"{clock.local(s.starts_at, office.timezone):%H:%M}"
                                      f"–{clock.local(s.ends_at, office.timezone):%H:%M}"}
                for s in await day_sessions(room, None, scheduler_config_of(request.app))
            ],
        })
    local_now = clock.local(clock.now(), office.timezone)
    return templates.TemplateResponse(request, "exam/rooms.html", {
        "principal": principal, "office": office, "rooms": rooms,
        "today": local_now.date().isoformat(), "now_local": local_now.strftime("%H:%M"),
        "utc_offset": local_now.strftime("%z")[:3] + ":" + local_now.strftime("%z")[3:],
    })


async def board_page(request: Request) -> Response:
    try:
        session = await get_session(request.path_params["session"])
    except ApiError:
        await page_principal(request, *PROCTORS)
        raise PageRedirect(not_found_page(request, "No existe esa sesión de examen.")) from None
    office = session.room.office
    principal = await page_principal(request, *PROCTORS, office=office)
    board = await board_view(session, exam_config(request))
    return templates.TemplateResponse(request, "exam/board.html", {
        "principal": principal, "office": office, "session": session, "room": session.room,
        "starts_local": clock.local(session.starts_at, office.timezone).strftime("%d/%m/%Y %H:%M"),
        "categories": [(c, CATEGORY_NAMES[c]) for c in CATEGORIES],
        "boot": {"session": session.id, "office": office.code, "board": board},
    })


async def seat_page(request: Request) -> Response:
    try:
        seat = await seat_links.get_seat_by_token(request.path_params["token"])
    except ApiError:
        return not_found_page(request, "Este enlace de computadora no es válido. Pida ayuda al examinador.")
    state = await seat_view(seat, exam_config(request))
    response = templates.TemplateResponse(request, "exam/seat.html", {
        # The link it was opened with: a candidate's link (their exam) or the idle seat's.
        "seat": seat, "room": seat.room, "boot": {"token": request.path_params["token"], "state": state},
    })
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


routes = [
    Route("/exam/seat/{token}", seat_page, methods=["GET"]),
    Route("/exam/{office}", rooms_page, methods=["GET"]),
    Route("/exam/{office}/sessions/{session}", board_page, methods=["GET"]),
]
