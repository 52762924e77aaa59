"""Administration pages (Spanish): offices, services, desks, users and devices, audit log.

The pages render the current configuration; their forms send JSON to /api/admin/… with
the session cookie (static/js/admin.js), so the rules and messages are the API's.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from turnero.admin import charts, report_service, reports, service
from turnero.admin.policy import WEEKDAYS, WEEKDAYS_ES
from turnero.core.errors import ApiError
from turnero.core.field_names import FIELD_NAMES_ES
from turnero.core.models import Office, Role, Service
from turnero.core.pages import PageRedirect, page_principal
from turnero.core.templating import templates
from turnero.exam.rooms import office_rooms
from turnero.core.pages import not_found_page
from turnero.queue import satisfaction
from turnero.scheduler.calendars import calendar_view
from turnero.scheduler.config import config_of
from turnero.scheduler.models import BookingRule
from turnero.scheduler.rules import rule_capacity

ROLE_ES = {"admin": "Administrador", "supervisor": "Supervisor", "operator": "Operador",
           "kiosk": "Quiosco", "display": "Pantalla de sala"}
CALENDAR_DAYS = 90  # closed days shown ahead
# A booking rule's starting values (scheduler.schemas.BookingRuleIn's defaults).
DEFAULT_RULE = {"slot_minutes": 15, "window_days": 30, "min_notice_minutes": 60, "release_time": "07:00",
                "cancel_cutoff_minutes": 120}
DEPARTMENTS = ("La Paz", "Cochabamba", "Santa Cruz", "Oruro", "Potosí", "Chuquisaca", "Tarija", "Beni", "Pando")


def _hours_text(hours: dict) -> dict[str, str]:
    """{"mon": [["07:30", "12:00"], …]} -> {"mon": "07:30-12:00, …"} for the form."""
    return {day: ", ".join(f"{a}-{b}" for a, b in hours.get(day, [])) for day in WEEKDAYS}


def _render(request: Request, template: str, context: dict) -> Response:
    base = {"ROLE_ES": ROLE_ES, "WEEKDAYS": WEEKDAYS, "WEEKDAYS_ES": WEEKDAYS_ES, "DEPARTMENTS": DEPARTMENTS,
            "FIELD_ES": FIELD_NAMES_ES}
    return templates.TemplateResponse(request, template, {**base, **context})


async def _with_local_times(request: Request, entries: list[dict]) -> list[dict]:
    """Each audit entry's time as the office's clock showed it (dd/mm/aaaa HH:MM, as
    written in Bolivia); a change to no office (a service, an admin) in the default
    time zone (TURNERO_TIMEZONE)."""
    zones = {code: ZoneInfo(tz) for code, tz in await Office.all().values_list("code", "timezone")}
    default = ZoneInfo(request.app.state.settings.default_timezone)
    for entry in entries:
        at = datetime.fromisoformat(entry["at"])
        entry["at_local"] = at.astimezone(zones.get(entry["office"], default)).strftime("%d/%m/%Y %H:%M")
    return entries


async def _guarded(request: Request, work):
    """The page's data; a 404 page for an unknown office, the 403 page for one that
    is not the supervisor's."""
    try:
        return await work()
    except ApiError as exc:
        if exc.status == 404:
            raise PageRedirect(not_found_page(request, exc.message)) from None
        raise PageRedirect(templates.TemplateResponse(
            request, "forbidden.html", {"principal": request.state.principal}, status_code=403)) from None


async def overview(request: Request) -> Response:
    principal = await page_principal(request, Role.SUPERVISOR)
    offices = await service.list_offices(principal)
    return _render(request, "admin/index.html", {"principal": principal, "offices": offices,
                                                 "services": await service.list_services(),
                                                 "hours": _hours_text({})})


async def office_page(request: Request) -> Response:
    principal = await page_principal(request, Role.SUPERVISOR)
    code = request.path_params["office"]
    office = await _guarded(request, lambda: service.get_office(principal, code))
    desks = await service.list_desks(principal, code)
    services = await service.list_services()
    offered = [s for s in services if s["code"] in office["services"]]
    return _render(request, "admin/office.html", {
        "principal": principal, "office": office, "desks": desks, "services": services, "offered": offered,
        "hours": _hours_text(office["opening_hours"]),
        "audit": await _with_local_times(
            request, await service.list_audit(principal, code if principal.is_admin else None, limit=20)),
    })


async def calendar_page(request: Request) -> Response:
    """The office's citas calendar: each bookable service's booking rule (with a form
    to change it), the closed days ahead (holidays and closures, and a form to close a
    day), and its exam rooms with their seats. The forms use the citas API."""
    principal = await page_principal(request, Role.SUPERVISOR)
    code = request.path_params["office"]
    office = await _guarded(request, lambda: service.get_office(principal, code))
    model = await service.office_by_code(code)
    calendar = await calendar_view(model, CALENDAR_DAYS, config_of(request.app))
    rules = {rule["service"]: rule for rule in calendar["rules"]}
    bookable = [s for s in await service.list_services() if s["code"] in office["services"] and s["bookable"]]
    rows = []
    for s in bookable:
        rule = rules.get(s["code"])
        if rule is None:  # no rule yet: citas are not offered; the form starts from the defaults
            default = BookingRule(office_id=model.id)
            capacity = await rule_capacity(model, await Service.get(code=s["code"]), default)
            rule = {**DEFAULT_RULE, "capacity": capacity, "capacity_from_desks": True, "active": False}
        rows.append({"service": s, "rule": rule, "configured": s["code"] in rules})
    rooms = [{"code": r.code, "name": r.name, "seats": sorted(r.seats, key=lambda seat: seat.number)}
             for r in await office_rooms(model)]
    return _render(request, "admin/calendar.html", {
        "principal": principal, "office": office, "rules": rows, "closed_days": calendar["closed_days"],
        "days": CALENDAR_DAYS, "rooms": rooms,
    })


async def services_page(request: Request) -> Response:
    principal = await page_principal(request)  # admin only
    return _render(request, "admin/services.html",
                   {"principal": principal, "services": await service.list_services()})


async def users_page(request: Request) -> Response:
    principal = await page_principal(request, Role.SUPERVISOR)
    users = await service.list_users(principal)
    offices = await service.list_offices(principal)
    roles = list(ROLE_ES) if principal.is_admin else [r.value for r in service.SUPERVISED_ROLES]
    return _render(request, "admin/users.html",
                   {"principal": principal, "users": users, "offices": offices, "roles": roles})


async def audit_page(request: Request) -> Response:
    principal = await page_principal(request, Role.SUPERVISOR)
    return _render(request, "admin/audit.html",
                   {"principal": principal,
                    "entries": await _with_local_times(request, await service.list_audit(principal, limit=200))})


async def report_page(request: Request) -> Response:
    principal = await page_principal(request, Role.SUPERVISOR)
    code, query = request.path_params["office"], request.query_params
    report = await _guarded(request, lambda: report_service.office_report(principal, code, query.get("from"),
                                                                        query.get("to")))
    hourly: dict[int, int] = {}
    for counts in report["by_service_and_hour"].values():
        for hour, n in counts.items():
            hourly[hour] = hourly.get(hour, 0) + n
    # At least a working day (07–16 h), so one busy hour is not drawn as one wide bar.
    hours = list(range(min([7, *hourly]), max([16, *hourly]) + 1))
    by_hour = charts.bar_chart("Turnos emitidos por hora", [f"{h:02d}" for h in hours], [hourly.get(h, 0) for h in hours])
    waits = report["wait"]["by_service"]
    wait_chart = charts.bar_chart("Espera p90 por trámite (minutos)", list(waits), [w["p90"] or 0 for w in waits.values()],
                                  " min")
    office = await service.office_by_code(code)  # (the report above checked the office and the actor)
    rated = await satisfaction.office_report(office, date.fromisoformat(report["from"]), date.fromisoformat(report["to"]))
    return _render(request, "admin/report.html", {
        "principal": principal, "report": report, "hours": hours, "tables": reports.TABLES, "satisfaction": rated,
        "charts": [by_hour, wait_chart],
        "service_names": {s["code"]: s["name"] for s in await service.list_services()},
    })


routes = [
    Route("/admin/offices/{office}/report", report_page, methods=["GET"]),
    Route("/admin/offices/{office}/calendar", calendar_page, methods=["GET"]),
    Route("/admin", overview, methods=["GET"]),
    Route("/admin/offices/{office}", office_page, methods=["GET"]),
    Route("/admin/services", services_page, methods=["GET"]),
    Route("/admin/users", users_page, methods=["GET"]),
    Route("/admin/audit", audit_page, methods=["GET"]),
]
