"""Citas API (docs/api.md): availability, booking, look-up, cancel,
reschedule, calendar file and QR code, kiosk check-in, office calendars."""

from __future__ import annotations

import io
import math
import re
from datetime import datetime, timezone

import segno
from icalendar import Calendar, Event
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from turnero.core.api import ApiDoc, api_route
from turnero.core.auth import current_principal, require
from turnero.core.errors import ApiError, api_error_handler, invalid
from turnero.core.http import MAX_BODY_BYTES, json_response, query_date, read_json, refuse_control_text
from turnero.core.models import Role
from turnero.core.ratelimit import CITA_GUESSES_PER_CLIENT, CITA_GUESSES_PER_CODE, attempts_for, too_many_attempts
from turnero.core.service import fee_words, get_office
from turnero.scheduler import booking, calendars, changes, checkin, ranking, views
from turnero.scheduler.availability import MAX_DAYS, availability_json, offices_for_service
from turnero.scheduler.config import SchedulerConfig, config_of, office_by_code
from turnero.scheduler.schemas import (
    AppointmentOut,
    BookAppointment,
    BookingRuleIn,
    CalendarOut,
    CancelAppointment,
    CheckIn,
    CheckInOut,
    ClosureIn,
    RescheduleAppointment,
    RuleOut,
    ServiceOfficeOut,
    SlotOut,
)

CHECKIN_ROLES = (Role.KIOSK, Role.OPERATOR, Role.SUPERVISOR)
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, as the IETF draft's keys


def _config(request: Request) -> SchedulerConfig:
    return config_of(request.app)


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,4}", raw) or not (low <= int(raw) <= high):
        raise invalid(f"Datos inválidos — {name}: número entero entre {low} y {high}")
    return int(raw)


async def availability(request: Request):
    office = await office_by_code(request.path_params["office"], _config(request))
    service_code = request.query_params.get("service")
    if not service_code:
        raise invalid("Datos inválidos — service: falta este campo")
    from_day = query_date(request, "from")
    days = _query_int(request, "days", 30, 1, MAX_DAYS)
    body = await availability_json(office, service_code, from_day, days, _config(request))
    return Response(body, media_type="application/json")


async def service_offices(request: Request):
    return json_response(await offices_for_service(request.path_params["service"], _config(request)))


async def book(request: Request):
    config = _config(request)
    client = request.client.host if request.client else "?"
    try:
        limiter = request.app.state.rate_limiter
        if not limiter.hit_all(config.booking_limits, "booking", client):
            wait = max(1, math.ceil(limiter.retry_after(config.booking_limits, "booking", client)))
            error = ApiError(429, "rate_limited", "Demasiadas solicitudes de reserva; espere un momento e intente otra vez.")
            error.headers = {"Retry-After": str(wait)}
            raise error
        key = request.headers.get("idempotency-key")
        if key is not None and not _KEY.match(key):
            raise invalid("Idempotency-Key inválida (1 a 128 caracteres ASCII visibles).", code="invalid_idempotency_key")
        body = await _booking_body(request)
        actor = await current_principal(request)
        status, view = await booking.book(body, idempotency_key=key, config=config, actor=actor)
    except ApiError as exc:  # answered here, as the app's handler would: a storm's refusals skip the unwinding
        return await api_error_handler(request, exc)
    return json_response(view, status)


async def _booking_body(request: Request) -> BookAppointment:
    """The body as read_json reads it, parsed once when it is valid (read_json parses a
    body twice to tell malformed JSON from wrong values; a valid body is both)."""
    raw = await request.body()
    if len(raw) <= MAX_BODY_BYTES:
        try:
            parsed = BookAppointment.model_validate_json(raw, strict=True)
        except ValidationError:
            pass
        else:
            refuse_control_text(raw, parsed)
            return parsed
    return await read_json(request, BookAppointment)  # its errors, word for word


def _document_param(request: Request) -> str | None:
    document = request.query_params.get("document")
    if document is not None and len(document) > 24:
        raise views._not_found()
    return document


async def _guarded(request: Request, document: str | None, work):
    """Run `work()` (a look-up by cita code and document) with the guess counted first:
    per cita code and per client address, atomically (CITA_GUESSES_*). A refused guess
    is a 429 `too_many_attempts` with Retry-After — for the right document too, until
    the window passes. A look-up that succeeds is not a guess and is given back."""
    if document is None:  # the unguessable id alone: nothing is being guessed
        return await work()
    attempts = attempts_for(request.app)
    code = request.path_params["code"].strip().upper()
    client = request.client.host if request.client else "?"
    counted: list[tuple] = []
    for rule, key in ((CITA_GUESSES_PER_CODE, code), (CITA_GUESSES_PER_CLIENT, client)):
        wait = await attempts.take(rule, key)
        if wait > 0:
            for taken_rule, taken_key in counted:
                await attempts.give_back(taken_rule, taken_key)
            raise too_many_attempts(
                wait, "Demasiados intentos con documentos que no corresponden; espere unos minutos e intente otra vez."
            )
        counted.append((rule, key))
    try:
        result = await work()
    except ApiError as exc:
        if exc.code != "appointment_not_found":  # the document matched; the change itself was refused
            for rule, key in counted:
                await attempts.give_back(rule, key)
        raise
    for rule, key in counted:
        await attempts.give_back(rule, key)
    return result


async def get_appointment(request: Request):
    document = _document_param(request)
    view = await _guarded(request, document, lambda: views.appointment_for_citizen(
        request.path_params["code"], document, _config(request)
    ))
    return json_response(view)


async def cancel(request: Request):
    body = await read_json(request, CancelAppointment)
    actor = await current_principal(request)
    return json_response(await _guarded(request, body.number(), lambda: changes.cancel(
        request.path_params["code"], body.number(), _config(request), actor
    )))


async def reschedule(request: Request):
    body = await read_json(request, RescheduleAppointment)
    actor = await current_principal(request)
    return json_response(await _guarded(request, body.number(), lambda: changes.reschedule(
        request.path_params["code"], body.number(), body.start, _config(request), actor
    )))


async def calendar_file(request: Request):
    document = _document_param(request)
    view = await _guarded(request, document, lambda: views.appointment_for_citizen(
        request.path_params["code"], document, _config(request)
    ))
    return Response(
        ics_document(view, _base_url(request)), media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cita-{view["code"]}.ics"'},
    )


async def qr_code(request: Request):
    document = _document_param(request)
    view = await _guarded(request, document, lambda: views.appointment_for_citizen(
        request.path_params["code"], document, _config(request)
    ))
    buffer = io.BytesIO()
    segno.make(_base_url(request) + view["links"]["page"], error="m").save(
        buffer, kind="svg", scale=6, border=2, xmldecl=False
    )
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=300"})


def _base_url(request: Request) -> str:
    return _config(request).public_url or str(request.base_url).rstrip("/")


def ics_document(view: dict, base_url: str) -> bytes:
    """The cita as an iCalendar file (RFC 5545) the citizen adds to their calendar."""
    cal = Calendar()
    cal.add("prodid", "-//Turnero//Citas//ES")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{view['id']}@turnero")
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", datetime.fromisoformat(view["start"]).astimezone(timezone.utc))
    event.add("dtend", datetime.fromisoformat(view["end"]).astimezone(timezone.utc))
    event.add("summary", f"Cita: {view['service_name']} ({view['code']})")
    event.add("location", f"{view['office_name']}, {view['office_address']}")
    requirements = "\n".join(f"- {r}" for r in view["requirements"])
    event.add("description", (
        f"Código de cita: {view['code']}\nPersonas: {view['party_size']}\n"
        f"Registre su llegada en el quiosco entre {view['checkin_from'][11:16]} y {view['checkin_until'][11:16]}.\n"
        + (f"Requisitos:\n{requirements}\n" if requirements else "")
        + (f"Costo: {fee_words(view['fee_bs'])}\n" if fee_words(view.get("fee_bs")) else "")
        + (f"{view['fee_note']}\n" if view.get("fee_note") else "")
        + f"{base_url}{view['links']['page']}"
    ))
    event.add("url", f"{base_url}{view['links']['page']}")
    event.add("status", "CANCELLED" if view["status"] == "cancelled" else "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()


async def check_in(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, *CHECKIN_ROLES, office_id=office.id)
    body = await read_json(request, CheckIn)
    view = await checkin.check_in(
        office, code=body.code, document=body.document, actor=actor, config=_config(request),
        queue_config=request.app.state.queue_config,
    )
    return json_response(view, 201)


async def office_calendar(request: Request):
    office = await get_office(request.path_params["office"])
    days = _query_int(request, "days", 60, 1, 366)
    return json_response(await calendars.calendar_view(office, days, _config(request)))


async def set_rule(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, Role.SUPERVISOR, office_id=office.id)
    body = await read_json(request, BookingRuleIn)
    return json_response(await calendars.set_booking_rule(office, body.model_dump(), actor, _config(request)))


async def add_closure(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, Role.SUPERVISOR, office_id=office.id)
    body = await read_json(request, ClosureIn)
    return json_response(await calendars.add_closure(office, body.date, body.reason, actor, _config(request)), 201)


async def service_ranking(request: Request):
    query = request.query_params
    city = query.get("city") or None
    near = query.get("near") or None
    for name, value in (("city", city), ("near", near)):
        if value is not None and len(value) > 64:
            raise invalid(f"Parámetro {name} demasiado largo.", code="invalid_query")
    return json_response(await ranking.ranking(
        request.path_params["service"], request.app.state.queue_config.policy, city=city, near=near,
        scheduler_config=_config(request),
    ))


routes = [
    api_route(
        "/api/offices/{office}/availability", "GET", availability,
        ApiDoc("Horarios de cita reservables y cupos libres", "appointments", response=SlotOut, response_list=True,
               errors=(404, 422), query={"service": "código de trámite (obligatorio)", "from": "AAAA-MM-DD (hoy)",
                                         "days": f"días a partir de `from` (1–{MAX_DAYS}, 30)"}),
    ),
    api_route(
        "/api/services/{service}/offices", "GET", service_offices,
        ApiDoc("Oficinas donde se reserva un trámite, con su próximo horario libre", "appointments",
               response=ServiceOfficeOut, response_list=True, errors=(404,)),
    ),
    api_route(
        "/api/appointments", "POST", book,
        ApiDoc("Reservar una cita (cabecera opcional Idempotency-Key)", "appointments", body=BookAppointment,
               response=AppointmentOut, success_status=201, errors=(400, 404, 409, 422, 429)),
    ),
    api_route(
        "/api/appointments/{code}", "GET", get_appointment,
        ApiDoc("Consultar una cita", "appointments", response=AppointmentOut, errors=(404, 429),
               query={"document": "número de documento (con el código corto)"}),
    ),
    api_route(
        "/api/appointments/{code}/cancel", "POST", cancel,
        ApiDoc("Cancelar una cita (hasta el plazo de cancelación)", "appointments", body=CancelAppointment,
               response=AppointmentOut, errors=(400, 404, 409, 422, 429)),
    ),
    api_route(
        "/api/appointments/{code}/reschedule", "POST", reschedule,
        ApiDoc("Reprogramar una cita a otro horario (atómico)", "appointments", body=RescheduleAppointment,
               response=AppointmentOut, errors=(400, 404, 409, 422, 429)),
    ),
    api_route(
        "/api/appointments/{code}/calendar.ics", "GET", calendar_file,
        ApiDoc("La cita como archivo de calendario (.ics)", "appointments", errors=(404, 429),
               query={"document": "número de documento (con el código corto)"}),
    ),
    api_route(
        "/api/appointments/{code}/qr.svg", "GET", qr_code,
        ApiDoc("Código QR de la cita (enlace a su página)", "appointments", errors=(404, 429),
               query={"document": "número de documento (con el código corto)"}),
    ),
    api_route(
        "/api/offices/{office}/checkins", "POST", check_in,
        ApiDoc("Registrar la llegada de una cita (quiosco): crea su turno", "appointments", body=CheckIn,
               response=CheckInOut, success_status=201, roles=("kiosk", "operator", "supervisor", "admin"),
               errors=(400, 401, 403, 404, 409, 422)),
    ),
    api_route(
        "/api/offices/{office}/calendar", "GET", office_calendar,
        ApiDoc("Calendario de citas de la oficina: horarios, reglas y días cerrados", "calendars",
               response=CalendarOut, errors=(404, 422), query={"days": "días de cierres a mostrar (60)"}),
    ),
    api_route(
        "/api/offices/{office}/booking-rules", "PUT", set_rule,
        ApiDoc("Crear o cambiar la regla de reserva de un trámite", "calendars", body=BookingRuleIn,
               response=RuleOut, roles=("supervisor", "admin"), errors=(400, 401, 403, 404, 422)),
    ),
    api_route(
        "/api/offices/{office}/closures", "POST", add_closure,
        ApiDoc("Cerrar la oficina un día futuro (cancela las citas de ese día)", "calendars", body=ClosureIn,
               success_status=201, roles=("supervisor", "admin"), errors=(400, 401, 403, 404, 422)),
    ),
    api_route("/api/services/{service}/ranking", "GET", service_ranking,
              ApiDoc("Oficinas ordenadas por espera estimada y próxima cita libre; con `near`, la oficina"
                     " más rápida a proponer", "estimates", errors=(404, 422),
                     query={"city": "ciudad (por defecto la de `near`)", "near": "código de la oficina actual"})),
]
