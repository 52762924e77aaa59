"""Licence path API (issue 20): the examiner records the result of a medical and
psychological evaluation or of a practical driving test taken on a cita; an admin books an
institution's list of candidates into a theory-exam session."""

from __future__ import annotations

from starlette.requests import Request

from turnero.core.api import ApiDoc, api_route
from turnero.core.auth import require
from turnero.core.http import json_response, read_json
from turnero.core.models import Role
from turnero.exam import group_sessions, licence_results, rooms
from turnero.exam.routes import exam_config
from turnero.exam.schemas import GroupBookingIn, GroupBookingOut, LicenceResultIn, LicenceResultOut

EXAMINERS = (Role.SUPERVISOR,)  # the office's examiner (demo: `examinador`), and admins


async def record_result(request: Request):
    actor = await require(request, *EXAMINERS)
    body = await read_json(request, LicenceResultIn)
    return json_response(await licence_results.record_result(body.appointment, body.passed, body.notes, actor,
                                                                    ticket=body.ticket), 201)


async def group_booking(request: Request):
    actor = await require(request)  # admins only
    session = await rooms.get_session(request.path_params["session"])
    body = await read_json(request, GroupBookingIn)
    return json_response(
        await group_sessions.book_group(session, body.institution, body.category, body.candidates, actor,
                                        exam_config(request)), 201)


routes = [
    api_route("/api/licence/results", "POST", record_result,
              ApiDoc("Registrar el resultado de la evaluación médica y psicológica o del examen práctico de una "
                     "cita (aprobado o reprobado, observaciones)", "exam", body=LicenceResultIn,
                     response=LicenceResultOut, success_status=201, roles=("supervisor", "admin"),
                     errors=(400, 401, 403, 404, 409, 422))),
    api_route("/api/exam/sessions/{session}/group-bookings", "POST", group_booking,
              ApiDoc("Inscribir la lista de postulantes de una institución en una sesión de examen teórico (todos "
                     "los habilitados o ninguno, sin pasar las computadoras en servicio)", "exam",
                     body=GroupBookingIn, response=GroupBookingOut, success_status=201, roles=("admin",),
                     errors=(400, 401, 403, 404, 409, 422))),
]
