"""Citizen portal pages: book a cita, and look up, cancel or reschedule one.

The pages are public (no login) and render only the catalogue; the browser then talks to
the JSON API (turnero/scheduler/routes.py) for availability, booking and changes, so the
rules live in one place and the pages stay thin.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from datetime import date

from turnero.core import brigades, clock
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


MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
             "noviembre", "diciembre")
BRIGADE_STOPS_SHOWN = 6


def _day_es(day: date) -> str:
    return f"{day.day} de {MONTHS_ES[day.month - 1]}"


def stop_line(stop: dict) -> dict:
    """A brigade's stop as the portal words it: «del 7 al 9 de diciembre», «08:00–12:30 y 14:00–17:00»."""
    first, last = date.fromisoformat(stop["starts_on"]), date.fromisoformat(stop["ends_on"])
    if first == last:
        days = f"el {_day_es(first)}"
    elif (first.year, first.month) == (last.year, last.month):
        days = f"del {first.day} al {_day_es(last)}"
    else:
        days = f"del {_day_es(first)} al {_day_es(last)}"
    hours = " y ".join(f"{start}–{end}" for start, end in stop["hours"])
    return {**stop, "days": days, "hours_text": hours}


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
    stops = await brigades.upcoming_stops(limit=BRIGADE_STOPS_SHOWN)
    return _citizen_page(
        request,
        "portal/book.html",
        {
            "services": services,
            "brigade_stops": [stop_line(stop) for stop in stops],
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
