"""Satisfaction endpoints (docs/api.md «Valoración»): the citizen's rating of a finished
visit, the desk tablet's prompt and rating, and the office's report (staff)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from turnero.core.api import ApiDoc, api_route
from turnero.core.auth import require
from turnero.core.http import json_response, read_json
from turnero.core.models import Role
from turnero.core.service import get_office
from turnero.queue import satisfaction
from turnero.queue.satisfaction_schemas import (
    DeskPromptOut,
    RateAtDesk,
    RateVisit,
    RatingOut,
    SatisfactionReportOut,
)

DESK_STAFF = (Role.OPERATOR, Role.SUPERVISOR)
REPORT_ROLES = (Role.SUPERVISOR,)  # and admins


async def rate_visit(request: Request):
    """Public: the ticket's unguessable id is the key, as for reading it."""
    body = await read_json(request, RateVisit)
    return json_response(await satisfaction.rate_ticket(request.path_params["ticket"], body.score), 201)


async def desk_prompt(request: Request):
    office = await get_office(request.path_params["office"])
    await require(request, *DESK_STAFF, office_id=office.id)
    return json_response({"prompt": await satisfaction.desk_prompt(office, request.path_params["desk"])})


async def rate_at_desk(request: Request):
    office = await get_office(request.path_params["office"])
    actor = await require(request, *DESK_STAFF, office_id=office.id)
    body = await read_json(request, RateAtDesk)
    rating = await satisfaction.rate_at_desk(office, request.path_params["desk"], body.ticket, body.score,
                                             actor.user_id)
    return json_response(rating, 201)


async def _report(request: Request) -> dict:
    office = await get_office(request.path_params["office"])
    await require(request, *REPORT_ROLES, office_id=office.id)
    day_from, day_to = satisfaction.parse_range(request.query_params.get("from"), request.query_params.get("to"),
                                                office.timezone)
    return await satisfaction.office_report(office, day_from, day_to)


async def office_report(request: Request):
    return json_response(await _report(request))


async def office_report_csv(request: Request):
    report = await _report(request)
    return Response(satisfaction.report_csv(report), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="turnero-{report["office"]}-valoraciones-'
                               f'{report["from"]}-{report["to"]}.csv"'})


_PERIOD = {"from": "primer día (AAAA-MM-DD; por defecto hace 29 días)", "to": "último día (por defecto hoy)"}

routes = [
    api_route("/api/tickets/{ticket}/rating", "POST", rate_visit,
              ApiDoc("Valorar la atención de un turno terminado (1 a 5), una sola vez; 409 ticket_not_finished"
                     " o already_rated", "satisfaction", body=RateVisit, response=RatingOut, success_status=201,
                     errors=(400, 404, 409, 422))),
    api_route("/api/offices/{office}/desks/{desk}/rating", "GET", desk_prompt,
              ApiDoc("Tableta de la ventanilla: el turno recién terminado que puede valorarse (o null)",
                     "satisfaction", response=DeskPromptOut, roles=("operator", "supervisor", "admin"),
                     errors=(401, 403, 404))),
    api_route("/api/offices/{office}/desks/{desk}/rating", "POST", rate_at_desk,
              ApiDoc("Tableta de la ventanilla: valoración del ciudadano de un turno que esa ventanilla terminó"
                     " hace pocos minutos", "satisfaction", body=RateAtDesk, response=RatingOut,
                     success_status=201, roles=("operator", "supervisor", "admin"),
                     errors=(400, 401, 403, 404, 409, 422))),
    api_route("/api/offices/{office}/satisfaction", "GET", office_report,
              ApiDoc("Valoraciones de la oficina: media, cantidad y distribución por trámite y por operador",
                     "satisfaction", response=SatisfactionReportOut, roles=("supervisor", "admin"),
                     errors=(401, 403, 404, 422), query=_PERIOD)),
    api_route("/api/offices/{office}/satisfaction.csv", "GET", office_report_csv,
              ApiDoc("Valoraciones de la oficina, en CSV", "satisfaction", roles=("supervisor", "admin"),
                     errors=(401, 403, 404, 422), query=_PERIOD)),
]
