"""Kiosk pages (touch screen in the lobby), printed tickets and the citizen ticket page.

The kiosk issues tickets through the JSON API with its session cookie; these pages only
render HTML, the slip (80 mm HTML or ESC/POS) and the public page behind the QR code.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnero.core.errors import ApiError
from turnero.core.models import Office, OfficeService, Role
from turnero.core.pages import PageRedirect, not_found_page, page_office, page_principal
from turnero.core.service import cost_line
from turnero.core.templating import templates
from turnero.kiosk.printing import escpos_bytes, slip_for
from turnero.queue.labels import PRIORITY_ES, STATUS_ES
from turnero.queue import satisfaction
from turnero.queue.models import Ticket
from turnero.queue.actions import public_ticket_view
from turnero.scheduler.policy import CODE_ALPHABET, CODE_LENGTH

KIOSK_ROLES = (Role.KIOSK, Role.OPERATOR, Role.SUPERVISOR)


async def _kiosk_ticket(request: Request) -> Ticket:
    ticket = await Ticket.get_or_none(public_id=request.path_params["ticket"]).select_related("office")
    await page_principal(request, *KIOSK_ROLES, office=ticket.office if ticket else None)
    if ticket is None:
        raise PageRedirect(not_found_page(request, "No existe ese turno."))
    return ticket


async def walk_in_services(office: Office) -> list[dict]:
    links = await OfficeService.filter(
        office_id=office.id, service__active=True, service__walk_in=True
    ).select_related("service")
    services = sorted((link.service for link in links), key=lambda s: s.name)
    return [
        {"code": s.code, "name": s.name, "requirements": list(s.requirements or []), "steps": len(s.steps or []),
         "cost_line": cost_line(s.fee_bs)}
        for s in services
    ]


async def kiosk(request: Request) -> Response:
    office, _principal = await page_office(request, request.path_params["office"], *KIOSK_ROLES)
    return templates.TemplateResponse(
        request,
        "kiosk/kiosk.html",
        {
            "office": office,
            "services": await walk_in_services(office),
            # Every priority but regular, in the order the law lists them.
            "priorities": [(k, v) for k, v in PRIORITY_ES.items() if k != "regular"],
            # «Tengo cita»: the keyboard offers only the characters a cita code uses.
            "cita_code": {"alphabet": CODE_ALPHABET, "length": CODE_LENGTH},
        },
    )


async def ticket_print(request: Request) -> Response:
    """A printable 80 mm page of one ticket (reprints)."""
    ticket = await _kiosk_ticket(request)
    slip = await slip_for(ticket, request, request.app.state.queue_config)
    return templates.TemplateResponse(request, "kiosk/print.html", {"slip": slip})


async def ticket_slip(request: Request) -> Response:
    """Only the slip's HTML: the kiosk inserts it in its print area after issuing."""
    ticket = await _kiosk_ticket(request)
    slip = await slip_for(ticket, request, request.app.state.queue_config)
    return templates.TemplateResponse(request, "kiosk/_slip.html", {"slip": slip})


async def ticket_escpos(request: Request) -> Response:
    ticket = await _kiosk_ticket(request)
    slip = await slip_for(ticket, request, request.app.state.queue_config)
    return Response(
        escpos_bytes(slip),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="turno-{slip.number}.bin"'},
    )


async def citizen_ticket(request: Request) -> Response:
    """Public page behind the QR code: shows the turn, never who holds it."""
    try:
        view = await public_ticket_view(request.path_params["ticket"], request.app.state.queue_config)
    except ApiError as exc:
        if exc.status == 404:
            return not_found_page(request, "No encontramos ese turno. Revise el enlace o el código QR de su ticket.")
        raise
    office = await Office.get(code=view["office"])
    response = templates.TemplateResponse(
        request,
        "ticket/citizen.html",
        {
            "ticket": view,
            "office": office,
            "public_id": request.path_params["ticket"],
            "status_es": STATUS_ES,
            "priority_es": PRIORITY_ES,
            # A finished visit is rated once (queue/satisfaction.py): the score it got, if any.
            "rated": await satisfaction.score_of(view["id"]) if view["status"] == "done" else None,
        },
    )
    # The link is the only key to the ticket: keep it out of Referer headers and caches.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/kiosk/ticket/{ticket}/print", ticket_print, methods=["GET"]),
    Route("/kiosk/ticket/{ticket}/slip", ticket_slip, methods=["GET"]),
    Route("/kiosk/ticket/{ticket}/escpos", ticket_escpos, methods=["GET"]),
    Route("/kiosk/{office}", kiosk, methods=["GET"]),
    Route("/t/{ticket}", citizen_ticket, methods=["GET"]),
]
