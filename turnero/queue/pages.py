"""Operator desk console: pick a desk, then work it (the buttons call the JSON API); the
supervisor's balancing page and plan of pauses."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnero.core import clock
from turnero.core.auth import require
from turnero.core.errors import ApiError, not_found
from turnero.core.http import json_response, query_date
from turnero.core.models import Office, OfficeService, Role
from turnero.core.pages import PageRedirect
from turnero.core.service import get_office
from turnero.core.templating import templates
from turnero.core.pages import not_found_page, page_office
from turnero.queue.labels import PRIORITY_ES, STATUS_ES
from turnero.queue import balancing, desk_balancing, desks, groups, pause_plan, views
from turnero.queue.staffing import spans_for
from turnero.queue.config import QueueConfig
from turnero.queue.models import ACTIVE_AT_DESK, Desk, Ticket
from turnero.queue.sql import _connection

STAFF = (Role.OPERATOR, Role.SUPERVISOR)
DESK_STATUS_ES = {"open": "Abierta", "paused": "En pausa", "closed": "Cerrada"}


async def _office_services(office: Office) -> dict[str, str]:
    """Code -> name of every service the office offers (transfer targets, counts)."""
    rows = await OfficeService.filter(office_id=office.id, service__active=True).values_list(
        "service__code", "service__name"
    )
    return dict(sorted(rows))


async def _desk_state(office: Office, desk_name: str, config: QueueConfig) -> dict:
    """The desk, the ticket it has called or is serving (None when free) and its plan of
    pauses today with what the console reminds of it (pause_plan.desk_today)."""
    desk = await desks.get_desk(office, desk_name)
    view = next(v for v in await views.desk_views(office) if v["name"] == desk.name)
    ticket = (
        await Ticket.filter(desk_id=desk.id, status__in=ACTIVE_AT_DESK)
        .order_by("-called_at", "-id")
        .first()
    )
    current = await views.ticket_view(ticket, office, config) if ticket else None
    if current is not None:  # the tutor's minors: staff only (never on public views)
        current["members"] = await groups.of_visit(_connection(), ticket.visit_id)
    return {"desk": view, "ticket": current, "plan": await pause_plan.desk_today(office, desk, str(view["status"]))}


async def desk_list(request: Request) -> Response:
    office, principal = await page_office(request, request.path_params["office"], *STAFF)
    return templates.TemplateResponse(
        request,
        "desk/choose.html",
        {
            "principal": principal,
            "office": office,
            "desks": await views.desk_views(office),
            "services": await _office_services(office),
            "desk_status_es": DESK_STATUS_ES,
        },
    )


async def desk_console(request: Request) -> Response:
    office, principal = await page_office(request, request.path_params["office"], *STAFF)
    name = request.path_params["desk"]
    if not await Desk.exists(office_id=office.id, name=name):
        raise PageRedirect(not_found_page(request, f"No existe la ventanilla «{name}» en {office.code}."))
    state = await _desk_state(office, name, request.app.state.queue_config)
    return templates.TemplateResponse(
        request,
        "desk/console.html",
        {
            "principal": principal,
            "office": office,
            "desk": state["desk"],
            # The desk's own planned pauses today, so its operator knows them (the estimate counts on them).
            "plan": state["plan"],
            "boot": {
                "office": office.code,
                "desk": name,
                "state": state,
                "services": await _office_services(office),
                "status_es": STATUS_ES,
                "priority_es": PRIORITY_ES,
                "desk_status_es": DESK_STATUS_ES,
                # A desk another login holds: supervisors and admins may take it over.
                "can_take_over": principal.role in (Role.SUPERVISOR, Role.ADMIN),
            },
        },
    )


async def desk_state(request: Request) -> Response:
    """JSON for the console's refresh: the API's error shape, not a login redirect."""
    office = await get_office(request.path_params["office"])
    await require(request, *STAFF, office_id=office.id)
    name = request.path_params["desk"]
    if not await Desk.exists(office_id=office.id, name=name):
        raise not_found("desk_not_found", f"No existe la ventanilla {name!r} en {office.code}.")
    return json_response(await _desk_state(office, name, request.app.state.queue_config))


async def balancing_page(request: Request) -> Response:
    """Supervisor view (issue 8): queues, open desks and predicted waits per service,
    and desk moves to apply (balancing.js refreshes it through the JSON API)."""
    office, principal = await page_office(request, request.path_params["office"], Role.SUPERVISOR)
    # With automatic balancing on, the page opens at the threshold the server applies.
    threshold = office.auto_balance_minutes or balancing.DEFAULT_THRESHOLD_MINUTES
    view = await desk_balancing.balancing_view(office, request.app.state.queue_config.policy, threshold_minutes=threshold)
    return templates.TemplateResponse(
        request,
        "supervisor/balancing.html",
        {
            "principal": principal,
            "office": office,
            "view": view,
            "desk_status_es": DESK_STATUS_ES,
            "boot": {"office": office.code, "desk_status_es": DESK_STATUS_ES},
        },
    )


async def pause_plan_page(request: Request) -> Response:
    """Supervisor: a day's plan of pauses, one row per desk with its refrigerio and its
    almuerzo (pause-plan.js writes the whole day through the JSON API). With
    `?copy=AAAA-MM-DD` the table holds that day's plan instead, to be checked and saved
    as this day's: nothing is written until then. A day with a saved plan offers to
    repeat it on later days (pause-plan.js: POST …/pause-plan/repeat)."""
    office, principal = await page_office(request, request.path_params["office"], Role.SUPERVISOR)
    today = clock.local_day(clock.now(), office.timezone)
    try:
        day = query_date(request, "day") or today
    except ApiError:
        day = today  # a mistyped date in the address: today's plan
    editable = day >= today
    plan = await pause_plan.plan_view(office, day)
    saved = plan["pauses"]  # what is written for the day (the table may show a copy instead)
    notice = ""
    if editable and "copy" in request.query_params:
        try:
            source = query_date(request, "copy")
        except ApiError:
            source = None
        copied = await pause_plan.plan_view(office, source) if source else None
        if copied is None:
            notice = "La fecha del plan a copiar no es válida; la tabla no cambió."
        elif not copied["pauses"]:
            notice = f"El {source.isoformat()} no tiene pausas planificadas; la tabla no cambió."
        else:
            plan = copied
            notice = (f"Copiado el plan del {source.isoformat()}: {len(copied['pauses'])} pausas. "
                      f"Revíselo y guarde el plan del {day.isoformat()}.")
    # Today and past days: how the day's saved plan was kept, desk by desk.
    kept = await pause_plan.kept_view(office, day)
    by_desk: dict[str, list[dict]] = {}
    for p in plan["pauses"]:
        by_desk.setdefault(p["desk"], []).append(p)
    rows = []
    for desk in await views.desk_views(office):
        pauses = by_desk.get(desk["name"], [])
        first = {kind: next((p for p in pauses if p["kind"] == kind), None) for kind in ("refrigerio", "almuerzo")}
        rows.append({"name": desk["name"], "services": desk["service_weights"], **first,
                     "others": [p for p in pauses if p not in first.values()], "kept": kept.get(desk["name"], [])})
    hours = spans_for(office.opening_hours, day)
    last_day = today + timedelta(days=pause_plan.MAX_DAYS_AHEAD)
    return templates.TemplateResponse(
        request,
        "supervisor/pause_plan.html",
        {
            "principal": principal, "office": office, "day": day, "today": today, "rows": rows,
            "show_kept": bool(kept),  # today or a past day, with a plan
            "hours": [(f"{a:%H:%M}", f"{b:%H:%M}") for a, b in hours], "editable": editable,
            "copy_from": day - timedelta(days=7),  # a roster repeats by the week
            "notice": notice, "saved": bool(saved),
            # Repeated until four weeks later by default, at most as far as a plan is written.
            "last_day": last_day, "repeat_min": day + timedelta(days=1),
            "repeat_until": min(day + timedelta(days=28), last_day),
            "boot": {"office": office.code, "day": day.isoformat(),
                     # The saved plan: the table is compared with it before repeating it.
                     "saved": [{k: p[k] for k in ("desk", "start", "minutes", "kind")} for p in saved]},
        },
    )

routes = [
    Route("/supervisor/{office}/balancing", balancing_page, methods=["GET"]),
    Route("/supervisor/{office}/pausas", pause_plan_page, methods=["GET"]),
    Route("/desk/{office}", desk_list, methods=["GET"]),
    Route("/desk/{office}/{desk}", desk_console, methods=["GET"]),
    Route("/desk/{office}/{desk}/state", desk_state, methods=["GET"]),
]
