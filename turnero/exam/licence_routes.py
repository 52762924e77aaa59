"""Licence path API (issue 20): the examiner records the result of a medical and
psychological evaluation or of a practical driving test taken on a cita."""

from __future__ import annotations

from starlette.requests import Request

from turnero.core.api import ApiDoc, api_route
from turnero.core.auth import require
from turnero.core.http import json_response, read_json
from turnero.core.models import Role
from turnero.exam import licence_results
from turnero.exam.schemas import LicenceResultIn, LicenceResultOut

EXAMINERS = (Role.SUPERVISOR,)  # the office's examiner (demo: `examinador`), and admins


async def record_result(request: Request):
    actor = await require(request, *EXAMINERS)
    body = await read_json(request, LicenceResultIn)
    return json_response(await licence_results.record_result(body.appointment, body.passed, body.notes, actor), 201)


routes = [
    api_route("/api/licence/results", "POST", record_result,
              ApiDoc("Registrar el resultado de la evaluación médica y psicológica o del examen práctico de una "
                     "cita (aprobado o reprobado, observaciones)", "exam", body=LicenceResultIn,
                     response=LicenceResultOut, success_status=201, roles=("supervisor", "admin"),
                     errors=(400, 401, 403, 404, 409, 422))),
]
