"""Citizen portal pages: book a cita, and look up, cancel or reschedule one.

The pages are public (no login) and render only the catalogue; the browser then talks to
the JSON API (turnero/scheduler/routes.py) for availability, booking and changes, so the
rules live in one place and the pages stay thin.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnero.core import clock
from turnero.core import service as catalogue
from turnero.core.templating import templates
from turnero.scheduler.models import BookingRule

# Where a Bolivian CI can be issued ("expedido"), in the order SEGIP lists departments.
ISSUED_IN = [
    ("LP", "La Paz"), ("CB", "Cochabamba"), ("SC", "Santa Cruz"), ("OR", "Oruro"), ("PT", "Potosí"),
    ("CH", "Chuquisaca"), ("TJ", "Tarija"), ("BE", "Beni"), ("PD", "Pando"),
]
# Licence categories a theory exam can be booked for (SEGELIC: A, B, C, M, P, T).
LICENCE_CATEGORIES = [
    ("P", "P — Particular"), ("A", "A — Profesional"), ("B", "B — Profesional"), ("C", "C — Profesional"),
    ("M", "M — Motocicletas"), ("T", "T — Tractores y vehículos especiales"),
]
MAX_PARTY_SIZE = 10  # the same bound as group walk-in tickets
STATUS_ES = {
    "booked": "Reservada",
    "checked_in": "Llegada registrada",
    "done": "Atendida",
    "cancelled": "Cancelada",
    "no_show": "No se presentó",
}


def office_view(office: dict) -> dict:
    """What the portal shows of an office (from the catalogue's view of it)."""
    keys = ("code", "name", "institution", "city", "department", "address", "timezone", "services")
    return {
        **{k: office[k] for k in keys},
        # The office's date by the server's clock: the first day the calendar asks for.
        "today": clock.local_day(clock.now(), office["timezone"]).isoformat(),
    }


async def portal_catalogue() -> tuple[list[dict], list[dict]]:
    """Bookable trámites and the offices that take citas for at least one of them (an
    office offers a trámite online when it has an active booking rule for it)."""
    services = [s for s in await catalogue.list_services() if s["bookable"]]
    bookable = {s["code"] for s in services}
    ruled = set(await BookingRule.filter(active=True).values_list("office__code", "service__code"))
    offices = [
        {
            **office_view(o),
            "services": [c for c in o["services"] if c in bookable and (o["code"], c) in ruled],
        }
        for o in await catalogue.list_offices()
    ]
    offices = [o for o in offices if o["services"]]
    offered = {code for o in offices for code in o["services"]}
    services = sorted((s for s in services if s["code"] in offered), key=lambda s: s["name"])
    return services, offices


def _citizen_page(request: Request, template: str, context: dict) -> Response:
    response = templates.TemplateResponse(request, template, context)
    # Pages that show a cita carry personal data typed by the citizen: keep them out of
    # shared caches and Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def book(request: Request) -> Response:
    services, offices = await portal_catalogue()
    chosen = request.query_params.get("tramite", "")
    settings = request.app.state.settings
    return _citizen_page(
        request,
        "portal/book.html",
        {
            "services": services,
            "checkin_before": settings.checkin_before_minutes,
            "checkin_after": settings.checkin_after_minutes,
            "issued_in": ISSUED_IN,
            "categories": LICENCE_CATEGORIES,
            "max_party_size": MAX_PARTY_SIZE,
            "portal": {
                "page": "book",
                "services": services,
                "offices": offices,
                "chosen_service": chosen if any(s["code"] == chosen for s in services) else None,
                "status_es": STATUS_ES,
            },
        },
    )


async def manage(request: Request) -> Response:
    """Look up a cita by code and document; at /citas/{id} (the QR code's link) the
    unguessable id alone shows it, and the document is asked only to change it."""
    # A cita may be at any office and for any trámite, bookable today or not.
    offices = await catalogue.list_offices()
    all_services = await catalogue.list_services()
    code = "".join(request.query_params.get("codigo", "").split()).replace("-", "").upper()[:12]
    return _citizen_page(
        request,
        "portal/manage.html",
        {
            "code": code,
            "cita_id": request.path_params.get("cita_id"),
            "portal": {
                "page": "manage",
                "cita_id": request.path_params.get("cita_id"),
                "services": all_services,
                "offices": [office_view(o) for o in offices],
                "status_es": STATUS_ES,
            },
        },
    )


routes = [
    Route("/citas", book, methods=["GET"]),
    Route("/citas/consultar", manage, methods=["GET"]),
    Route("/citas/{cita_id}", manage, methods=["GET"]),  # scheduler.views.PORTAL_PATH
]
