"""Walk-in tickets, operator desks and ticket actions (docs/api.md)."""

from __future__ import annotations

from datetime import time

from starlette.requests import Request
from starlette.responses import Response

from turnero.core.api import ApiDoc, api_route
from turnero.core import clock
from turnero.core.auth import current_principal, require
from turnero.core.cache import Cache
from turnero.core.http import json_response, query_date, read_json
from turnero.core import service as core_service
from turnero.core.models import Office, Role
from turnero.core.schemas import OfficeOut
from turnero.core.service import get_office
from pydantic import Field, StrictInt

from turnero.core.errors import invalid
from turnero.queue import (
    actions,
    balancing,
    calls,
    desk_balancing,
    desks,
    eta_service,
    issuing,
    pause_plan,
    payments,
    ranking,
    statistics,
    views,
)
from turnero.queue.config import QueueConfig
from turnero.queue.models import DeskStatus
from turnero.queue.satisfaction_schemas import OfficeStatisticsOut
from turnero.queue.schemas import (
    CallTicket,
    DeskOut,
    IssueTicket,
    PausePlanIn,
    PausePlanOut,
    PausePlanRepeatIn,
    PausePlanRepeatOut,
    PaymentOut,
    RecordPayment,
    TicketOut,
    Transfer,
    _Body,
)

ISSUERS = (Role.KIOSK, Role.OPERATOR, Role.SUPERVISOR)
STAFF = (Role.OPERATOR, Role.SUPERVISOR)


def _config(request: Request) -> QueueConfig:
    return request.app.state.queue_config


# Offices by code, for the busiest routes (issue, call-next): one query less per
# request. Only the id, code and time zone are used there, which do not change in
# practice; a deactivated office stops answering within 5 seconds.
_offices = Cache(5.0)


async def _office(code: str) -> Office:
    return await _offices.get_or_load(code, lambda: get_office(code))


async def issue_ticket(request: Request):
    office = await _office(request.path_params["office"])
    actor = await require(request, *ISSUERS, office_id=office.id)
    body = await read_json(request, IssueTicket)
    view = await issuing.issue_ticket(
        office, body.service, priority=body.priority, party_size=body.party_size, phone=body.phone,
        members=body.members, actor=actor, config=_config(request),
    )
    return json_response(view, 201)


async def get_ticket(request: Request):
    return json_response(await actions.public_ticket_view(request.path_params["ticket"], _config(request)))


async def list_desks(request: Request):
    office = await get_office(request.path_params["office"])
    await require(request, *STAFF, office_id=office.id)
    return json_response(await views.desk_views(office))


class OpenDesk(_Body):
    # A supervisor or admin taking over a desk another login holds (audited).
    take_over: bool = False


def _desk_status_handler(status: DeskStatus):
    async def handler(request: Request):
        office = await get_office(request.path_params["office"])
        actor = await require(request, *STAFF, office_id=office.id)
        take_over = False
        if status == DeskStatus.OPEN and (await request.body()).strip():  # the body is optional
            take_over = (await read_json(request, OpenDesk)).take_over
        return json_response(
            await desks.set_desk_status(office, request.path_params["desk"], status, actor, take_over=take_over)
        )

    return handler


async def call_next(request: Request):
    office = await _office(request.path_params["office"])
    actor = await require(request, *STAFF, office_id=office.id)
    view = await calls.call_next(office, request.path_params["desk"], actor, _config(request))
    return Response(status_code=204) if view is None else json_response(view)


async def call_ticket(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, *STAFF, office_id=office.id)
    body = await read_json(request, CallTicket)
    return json_response(
        await calls.call_ticket(office, request.path_params["desk"], body.ticket, actor, _config(request))
    )


def _ticket_action(action):
    async def handler(request: Request):
        ticket = await actions.get_ticket(request.path_params["ticket"])
        actor = await require(request, *STAFF, office_id=ticket.office_id)
        return json_response(await action(ticket, actor, _config(request)))

    return handler


async def finish(request: Request):
    # The usual finish in one statement; anything else (and every error) takes the
    # general path, which checks in the same order as the other ticket actions.
    principal = await current_principal(request)
    if principal is not None and (principal.is_admin or principal.role in STAFF):
        view = await actions.finish_single_step(request.path_params["ticket"], principal, _config(request))
        if view is not None:
            return json_response(view)
    return await _finish_in_general(request)


_finish_in_general = _ticket_action(actions.finish)


async def record_payment(request: Request):
    ticket = await actions.get_ticket(request.path_params["ticket"])
    actor = await require(request, *STAFF, office_id=ticket.office_id)
    body = await read_json(request, RecordPayment)
    return json_response(await payments.record_payment(ticket, body.reference, body.channel, actor), 201)


async def transfer(request: Request):
    ticket = await actions.get_ticket(request.path_params["ticket"])
    actor = await require(request, *STAFF, office_id=ticket.office_id)
    body = await read_json(request, Transfer)
    return json_response(await actions.transfer(ticket, body.service, actor, _config(request)))


# ---- wait estimates, office ranking and desk balancing (issue 8)


class DeskMove(_Body):
    desk: str = Field(min_length=1, max_length=32)
    service: str = Field(min_length=1, max_length=32)


class AutoBalance(_Body):
    # Minutes of predicted wait above which the server moves a desk; null: off.
    threshold_minutes: StrictInt | None = Field(ge=1, le=600)


async def office_estimates(request: Request):
    """Public: per service, how many wait, open desks and a new walk-in's wait."""
    office = await get_office(request.path_params["office"])
    return json_response(await eta_service.office_estimates(office, _config(request).policy))


async def office_statistics(request: Request):
    """Public: waits by hour of day over the last weeks, and today's load."""
    office = await get_office(request.path_params["office"])
    return json_response(await statistics.office_statistics(office))


async def office_statistics_csv(request: Request):
    office = await get_office(request.path_params["office"])
    body = statistics.statistics_csv(await statistics.office_statistics(office))
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="turnero-{office.code}-esperas-por-hora.csv"'})


async def list_offices(request: Request):
    """The catalogue's offices (core.service); with `service`, per office the predicted
    wait of a regular walk-in and how many wait (issue 8). Here, not in core/routes.py:
    core never reaches up into the queue."""
    code = request.query_params.get("service")
    offices = await core_service.list_offices(code)
    if code is not None:
        await ranking.add_walk_in_waits(offices, code, request.app.state.queue_config.policy)
    return json_response(offices)


def _threshold(request: Request) -> int:
    raw = request.query_params.get("threshold")
    if raw is None or raw == "":
        return balancing.DEFAULT_THRESHOLD_MINUTES
    if not raw.isdigit() or not 1 <= int(raw) <= 600:
        raise invalid("threshold debe ser un número de minutos entre 1 y 600.", code="invalid_threshold")
    return int(raw)


async def balancing_view(request: Request):
    office = await get_office(request.path_params["office"])
    await require(request, Role.SUPERVISOR, office_id=office.id)
    return json_response(await desk_balancing.balancing_view(office, _config(request).policy,
                                                          threshold_minutes=_threshold(request)))


async def apply_move(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, Role.SUPERVISOR, office_id=office.id)
    body = await read_json(request, DeskMove)
    return json_response(await desk_balancing.apply_desk_move(office, body.desk, body.service, actor))


async def set_auto_balance(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, Role.SUPERVISOR, office_id=office.id)
    body = await read_json(request, AutoBalance)
    return json_response(await desk_balancing.set_auto_balance(office, body.threshold_minutes, actor))


async def get_pause_plan(request: Request):
    office = await get_office(request.path_params["office"])
    await require(request, *STAFF, office_id=office.id)
    day = query_date(request, "day") or clock.local_day(clock.now(), office.timezone)
    return json_response(await pause_plan.plan_view(office, day))


async def put_pause_plan(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, Role.SUPERVISOR, office_id=office.id)
    body = await read_json(request, PausePlanIn)
    pauses = [pause_plan.Pause(p.desk, time.fromisoformat(p.start), p.minutes, p.kind) for p in body.pauses]
    return json_response(await pause_plan.replace_plan(office, body.day, pauses, actor))


async def repeat_pause_plan(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, Role.SUPERVISOR, office_id=office.id)
    body = await read_json(request, PausePlanRepeatIn)
    return json_response(await pause_plan.repeat_plan(office, body.from_, body.days, actor))


_STAFF_ROLES = ("operator", "supervisor", "admin")
_DESK_ERRORS = (401, 403, 404, 409)


def _desk_doc(summary: str, **kw) -> ApiDoc:
    return ApiDoc(summary, "desks", roles=_STAFF_ROLES, errors=_DESK_ERRORS, **kw)


def _ticket_doc(summary: str, **kw) -> ApiDoc:
    return ApiDoc(summary, "tickets", roles=_STAFF_ROLES, response=TicketOut, errors=(401, 403, 404, 409), **kw)


routes = [
    api_route(
        "/api/offices/{office}/tickets", "POST", issue_ticket,
        ApiDoc("Emitir un turno presencial", "tickets", body=IssueTicket, response=TicketOut,
               success_status=201, roles=("kiosk", "operator", "supervisor", "admin"),
               errors=(400, 401, 403, 404, 422)),
    ),
    api_route(
        "/api/tickets/{ticket}", "GET", get_ticket,
        ApiDoc("Estado público de un turno (por su id no adivinable)", "tickets", response=TicketOut, errors=(404,)),
    ),
    api_route(
        "/api/offices/{office}/desks", "GET", list_desks,
        _desk_doc("Ventanillas de la oficina", response=DeskOut, response_list=True),
    ),
    api_route("/api/offices/{office}/desks/{desk}/open", "POST", _desk_status_handler(DeskStatus.OPEN),
              _desk_doc("Abrir la ventanilla (409 desk_in_use si otro usuario la atiende, salvo take_over de un "
                        "supervisor; 409 already_at_desk si el operador ya atiende otra)",
                        body=OpenDesk, response=DeskOut)),
    api_route("/api/offices/{office}/desks/{desk}/pause", "POST", _desk_status_handler(DeskStatus.PAUSED),
              _desk_doc("Pausar la ventanilla", response=DeskOut)),
    api_route("/api/offices/{office}/desks/{desk}/close", "POST", _desk_status_handler(DeskStatus.CLOSED),
              _desk_doc("Cerrar la ventanilla", response=DeskOut)),
    api_route("/api/offices/{office}/desks/{desk}/call-next", "POST", call_next,
              _desk_doc("Llamar al siguiente turno (204 si no hay nadie esperando)", response=TicketOut)),
    api_route("/api/offices/{office}/desks/{desk}/call", "POST", call_ticket,
              _desk_doc("Llamar un turno en particular fuera de orden", body=CallTicket, response=TicketOut)),
    api_route("/api/tickets/{ticket}/recall", "POST", _ticket_action(actions.recall), _ticket_doc("Volver a llamar")),
    api_route("/api/tickets/{ticket}/start", "POST", _ticket_action(actions.start), _ticket_doc("Iniciar la atención")),
    api_route("/api/tickets/{ticket}/finish", "POST", finish, _ticket_doc("Finalizar la atención")),
    api_route("/api/tickets/{ticket}/no-show", "POST", _ticket_action(actions.no_show), _ticket_doc("Marcar como ausente")),
    api_route("/api/tickets/{ticket}/payment", "POST", record_payment,
              ApiDoc("Registrar el pago del trámite (referencia de la boleta o de UNIMOVIL), una sola vez",
                     "tickets", body=RecordPayment, response=PaymentOut, success_status=201, roles=_STAFF_ROLES,
                     errors=(401, 403, 404, 409, 422))),
    api_route("/api/tickets/{ticket}/transfer", "POST", transfer,
              _ticket_doc("Transferir a otro trámite (conserva la hora de llegada)", body=Transfer)),
    api_route("/api/offices/{office}/estimates", "GET", office_estimates,
              ApiDoc("Espera estimada por trámite (personas en fila, ventanillas abiertas)", "estimates",
                     errors=(404,))),
    api_route("/api/offices/{office}/statistics", "GET", office_statistics,
              ApiDoc("Cifras públicas: espera por hora del día en las últimas semanas, la carga de hoy y la"
                     " valoración media (sin datos personales)", "estimates", response=OfficeStatisticsOut,
                     errors=(404,))),
    api_route("/api/offices/{office}/statistics.csv", "GET", office_statistics_csv,
              ApiDoc("Las esperas por hora del día, en CSV", "estimates", errors=(404,))),
    api_route(
        "/api/offices", "GET", list_offices,
        ApiDoc(
            "Oficinas (opcionalmente las que ofrecen un trámite)", "catalogue",
            response=OfficeOut, response_list=True, errors=(404,),
            query={"service": "código de trámite"},
        ),
    ),
    api_route("/api/offices/{office}/balancing", "GET", balancing_view,
              ApiDoc("Balanceo de ventanillas: filas, ventanillas, espera estimada y movimientos sugeridos",
                     "estimates", roles=("supervisor", "admin"), errors=(401, 403, 404, 422),
                     query={"threshold": "minutos de espera estimada a partir de los que se sugiere mover"})),
    api_route("/api/offices/{office}/balancing/apply", "POST", apply_move,
              ApiDoc("Mover una ventanilla a un trámite (pasa a ser su trámite principal)", "estimates",
                     body=DeskMove, roles=("supervisor", "admin"), errors=(400, 401, 403, 404, 409, 422))),
    api_route("/api/offices/{office}/pause-plan", "GET", get_pause_plan,
              ApiDoc("Plan de pausas del día (refrigerios y almuerzos por ventanilla); sin `day`, el de hoy",
                     "desks", response=PausePlanOut, roles=_STAFF_ROLES, errors=(401, 403, 404, 422),
                     query={"day": "fecha AAAA-MM-DD (por defecto hoy)"})),
    api_route("/api/offices/{office}/pause-plan", "PUT", put_pause_plan,
              ApiDoc("Escribir el plan de pausas de un día, completo (la lista vacía lo borra); la espera"
                     " estimada cuenta con esas pausas", "desks", body=PausePlanIn, response=PausePlanOut,
                     roles=("supervisor", "admin"), errors=(400, 401, 403, 404, 422))),
    api_route("/api/offices/{office}/pause-plan/repeat", "POST", repeat_pause_plan,
              ApiDoc("Repetir el plan de pausas guardado de un día (`from`) en otros días (`days`, hasta 31):"
                     " el plan de cada día se reemplaza completo, todos o ninguno", "desks",
                     body=PausePlanRepeatIn, response=PausePlanRepeatOut,
                     roles=("supervisor", "admin"), errors=(400, 401, 403, 404, 422))),
    api_route("/api/offices/{office}/balancing/auto", "PUT", set_auto_balance,
              ApiDoc("Balanceo automático: el servidor mueve una ventanilla cuando una espera estimada supera"
                     " `threshold_minutes` (como mucho una cada 10 min); null lo apaga", "estimates",
                     body=AutoBalance, roles=("supervisor", "admin"), errors=(400, 401, 403, 404, 422))),
]
