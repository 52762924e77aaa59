"""Exam API (/api/exam/...): the proctor's rooms, sessions, check-in, seat swaps and
board (staff of the office), and the seat kiosk's exam (by the seat's link token)."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.requests import Request

from turnero.core import clock
from turnero.core.api import ApiDoc, api_route
from turnero.core.auth import Principal, require
from turnero.core.errors import invalid, not_found
from turnero.core.http import json_response, read_json
from turnero.core.models import Office, Role
from turnero.core.service import get_office
from turnero.scheduler.config import config_of as scheduler_config_of
from turnero.exam import checkin, rooms, seat_links, seat_swap, taking, views
from turnero.exam.eligibility import check_eligibility
from turnero.exam.policy import CATEGORIES, ExamConfig
from turnero.exam.schemas import (
    Answer,
    AttemptOut,
    AttemptRef,
    Cancel,
    CreateSession,
    EligibilityOut,
    ExamBoardOut,
    ExamCheckIn,
    RoomOut,
    SeatChangeOut,
    SeatStateOut,
    SessionOut,
    Swap,
)

PROCTORS = (Role.OPERATOR, Role.SUPERVISOR)
_PROCTOR_ROLES = ("operator", "supervisor", "admin")


def exam_config(request: Request) -> ExamConfig:
    """The exam rules the app was made with (app.py, from its settings)."""
    return request.app.state.exam_config


async def _office_proctor(request: Request) -> tuple[Office, Principal]:
    office = await get_office(request.path_params["office"])
    return office, await require(request, *PROCTORS, office_id=office.id)


def _seat_number(raw: str) -> int:
    if not (raw.isdigit() and len(raw) <= 4 and int(raw) > 0):
        raise not_found("seat_not_found", f"No existe la computadora {raw!r}.")
    return int(raw)


def session_view(session) -> dict:
    tz = session.room.office.timezone
    return {
        "id": session.id, "room": session.room.code,
        "starts_at": clock.iso(session.starts_at, tz), "ends_at": clock.iso(session.ends_at, tz),
        "slot_id": session.slot_id,
    }


# ---------------------------------------------------------------- proctor


async def list_rooms(request: Request):
    office, _ = await _office_proctor(request)
    return json_response([
        {"code": r.code, "name": r.name,
         "seats": [{"number": s.number, "in_service": s.in_service} for s in sorted(r.seats, key=lambda s: s.number)]}
        for r in await rooms.office_rooms(office)
    ])


async def create_session(request: Request):
    office, _ = await _office_proctor(request)
    room = await rooms.get_room(office, request.path_params["room"])
    body = await read_json(request, CreateSession)
    session = await rooms.create_session(room, datetime.fromisoformat(body.starts_at), timedelta(minutes=body.minutes),
                                           scheduler_config_of(request.app))
    session.room = room
    return json_response(session_view(session), 201)


async def list_sessions(request: Request):
    office, _ = await _office_proctor(request)
    room = await rooms.get_room(office, request.path_params["room"])
    raw = request.query_params.get("date", "")
    try:
        day = datetime.fromisoformat(raw).date() if raw else None
    except ValueError:
        raise invalid("date: debe ser una fecha AAAA-MM-DD.") from None
    sessions = await rooms.day_sessions(room, day, scheduler_config_of(request.app))
    return json_response([session_view(s) for s in sessions])


def _seat_service_handler(in_service: bool):
    async def handler(request: Request):
        office, actor = await _office_proctor(request)
        room = await rooms.get_room(office, request.path_params["room"])
        return json_response(
            await rooms.set_seat_in_service(room, _seat_number(request.path_params["seat"]), in_service, actor)
        )

    return handler


async def _proctor_session(request: Request):
    session = await rooms.get_session(request.path_params["session"])
    actor = await require(request, *PROCTORS, office_id=session.room.office_id)
    return session, actor


async def board(request: Request):
    session, _ = await _proctor_session(request)
    return json_response(await views.board_view(session, exam_config(request)))


async def open_session(request: Request):
    session, actor = await _proctor_session(request)
    session = await rooms.open_session(session, actor, exam_config(request))
    return json_response(await views.board_view(session, exam_config(request)))


async def check_in(request: Request):
    session, actor = await _proctor_session(request)
    body = await read_json(request, ExamCheckIn)
    attempt = await checkin.check_in(
        session, body.booking, body.presented_document, seat_number=body.seat, actor=actor,
        config=exam_config(request),
    )
    return json_response(await views.attempt_view_loaded(attempt), 201)


async def _proctor_attempt(request: Request):
    attempt = await rooms.get_attempt(request.path_params["attempt"])
    session = await rooms.get_session(attempt.session_id)
    actor = await require(request, *PROCTORS, office_id=session.room.office_id)
    return attempt, actor


async def swap(request: Request):
    attempt, actor = await _proctor_attempt(request)
    body = await read_json(request, Swap)
    moved = await seat_swap.swap_seat(attempt, seat_number=body.seat, actor=actor, reason=body.reason)
    return json_response(await views.attempt_view_loaded(moved))


async def cancel(request: Request):
    attempt, actor = await _proctor_attempt(request)
    body = await read_json(request, Cancel)
    return json_response(await views.attempt_view_loaded(await seat_swap.cancel_attempt(attempt, actor, body.reason)))


async def eligibility(request: Request):
    await require(request, *PROCTORS)
    document = request.query_params.get("document", "").strip().upper()
    category = request.query_params.get("category", "").strip().upper()
    if not document or len(document) > 20 or "\x00" in document:
        raise invalid("document: falta o es inválido.")
    if category not in CATEGORIES:
        raise invalid(f"category: debe ser una de {' '.join(CATEGORIES)}.")
    verdict = await check_eligibility(document, category, exam_config(request))
    return json_response({
        "allowed": verdict.allowed, "code": verdict.code, "message": verdict.message,
        "not_before": clock.iso(verdict.not_before),
    })


# ---------------------------------------------------------------- the seat kiosk


async def seat_state(request: Request):
    seat = await seat_links.get_seat_by_token(request.path_params["token"])
    return json_response(await views.seat_view(seat, exam_config(request)))


async def seat_start(request: Request):
    seat = await seat_links.get_seat_by_token(request.path_params["token"])
    body = await read_json(request, AttemptRef)
    started = await taking.start_attempt(seat, body.attempt, exam_config(request))
    return json_response(await views.seat_view(seat, exam_config(request), started))


async def seat_answer(request: Request):
    seat = await seat_links.get_seat_by_token(request.path_params["token"])
    body = await read_json(request, Answer)
    attempt = await taking.record_answer(
        seat, body.attempt, body.question, body.choice, body.position, exam_config(request)
    )
    return json_response({"saved": True, "question": body.question, "choice": body.choice,
                          "position": attempt.position})


async def seat_submit(request: Request):
    seat = await seat_links.get_seat_by_token(request.path_params["token"])
    body = await read_json(request, AttemptRef)
    finished = await taking.submit_attempt(seat, body.attempt, exam_config(request))
    return json_response(await views.seat_view(seat, exam_config(request), finished))


def _proctor_doc(summary: str, **kw) -> ApiDoc:
    errors = kw.pop("errors", (401, 403, 404))
    return ApiDoc(summary, "exam", roles=_PROCTOR_ROLES, errors=errors, **kw)


def _seat_doc(summary: str, **kw) -> ApiDoc:
    errors = kw.pop("errors", (400, 403, 404, 409, 422))
    return ApiDoc(summary, "exam-seat", errors=errors, **kw)


SEAT_PATH = "/api/exam/offices/{office}/rooms/{room}/seats/{seat}"

routes = [
    api_route("/api/exam/offices/{office}/rooms", "GET", list_rooms,
              _proctor_doc("Salas de examen de la oficina y sus computadoras", response=RoomOut, response_list=True)),
    api_route("/api/exam/offices/{office}/rooms/{room}/sessions", "POST", create_session,
              _proctor_doc("Agregar una sesión de examen (un horario reservable más del trámite de examen)", body=CreateSession, response=SessionOut,
                           success_status=201, errors=(400, 401, 403, 404, 409, 422))),
    api_route("/api/exam/offices/{office}/rooms/{room}/sessions", "GET", list_sessions,
              _proctor_doc("Sesiones de la sala en un día (hoy si falta)", response=SessionOut, response_list=True,
                           query={"date": "AAAA-MM-DD, día en la zona horaria de la oficina"},
                           errors=(401, 403, 404, 422))),
    api_route(SEAT_PATH + "/out-of-service", "POST", _seat_service_handler(False),
              _proctor_doc("Poner una computadora fuera de servicio (baja las plazas de las sesiones futuras y mueve, "
                           "con aviso, las reservas que ya no caben)", response=SeatChangeOut, errors=(401, 403, 404, 409))),
    api_route(SEAT_PATH + "/in-service", "POST", _seat_service_handler(True),
              _proctor_doc("Devolver una computadora al servicio (sube las plazas de las sesiones futuras)",
                           response=SeatChangeOut, errors=(401, 403, 404))),
    api_route("/api/exam/sessions/{session}/board", "GET", board,
              _proctor_doc("Tablero de la sala: estado de cada computadora y estadísticas", response=ExamBoardOut)),
    api_route("/api/exam/sessions/{session}/start", "POST", open_session,
              _proctor_doc("Iniciar la sesión ahora (todos los esperados están sentados): cierra el registro",
                           response=ExamBoardOut, errors=(401, 403, 404, 409))),
    api_route("/api/exam/sessions/{session}/checkins", "POST", check_in,
              _proctor_doc("Registrar la llegada del postulante con su cita (control de identidad) y asignarle computadora",
                           body=ExamCheckIn, response=AttemptOut, success_status=201,
                           errors=(400, 401, 403, 404, 409, 422))),
    api_route("/api/exam/attempts/{attempt}/swap", "POST", swap,
              _proctor_doc("Cambiar de computadora (la anterior queda fuera de servicio; se conservan respuestas y "
                           "tiempo)", body=Swap, response=AttemptOut, errors=(400, 401, 403, 404, 409, 422))),
    api_route("/api/exam/attempts/{attempt}/cancel", "POST", cancel,
              _proctor_doc("Anular un registro cuyo examen no empezó (libera la computadora)", body=Cancel,
                           response=AttemptOut, errors=(400, 401, 403, 404, 409, 422))),
    api_route("/api/exam/eligibility", "GET", eligibility,
              _proctor_doc("¿Puede el postulante rendir (o reservar) el examen de la categoría?",
                           response=EligibilityOut, query={"document": "número de documento", "category": "A B C M P T"},
                           errors=(401, 403, 422))),
    api_route("/api/exam/seats/{token}", "GET", seat_state,
              _seat_doc("Estado de la computadora: examen asignado, preguntas, respuestas y tiempo",
                        response=SeatStateOut, errors=(404,))),
    api_route("/api/exam/seats/{token}/start", "POST", seat_start,
              _seat_doc("Comenzar (o continuar tras un cambio de computadora) el examen", body=AttemptRef,
                        response=SeatStateOut)),
    api_route("/api/exam/seats/{token}/answers", "POST", seat_answer,
              _seat_doc("Guardar una respuesta (reemplaza la anterior a la misma pregunta)", body=Answer)),
    api_route("/api/exam/seats/{token}/submit", "POST", seat_submit,
              _seat_doc("Terminar el examen y calificarlo", body=AttemptRef, response=SeatStateOut)),
]
