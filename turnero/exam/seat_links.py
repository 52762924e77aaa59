"""The links a seat's computer opens (/exam/seat/{token}), bound to one assignment.

A seat's page is reached by one of two links. The attempt's `seat_token` (made at
check-in, made anew by a seat swap, cleared by a release; the proctor's board hands it
out once the candidate is seated) shows and answers that exam only, while the attempt
holds that seat and, once finished, for RESULT_SHOWN_FOR. The seat's own `token` shows
the idle seat and reaches no exam. So a link seen once opens nothing of a later
candidate's exam (issue 17).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from turnero.core import clock
from turnero.core.errors import forbidden, not_found
from turnero.core.service import can_match
from turnero.exam.models import AttemptStatus, ExamAttempt, Seat

# How long a seat keeps showing its candidate's result after the exam ends.
RESULT_SHOWN_FOR = timedelta(minutes=15)
_LINKED = "_linked_attempt"  # set on the Seat a link opened: its attempt, or None (idle)


def link_alive(attempt: ExamAttempt, now: datetime) -> bool:
    if attempt.seat_id is None or attempt.status == AttemptStatus.CANCELLED:
        return False
    if attempt.status == AttemptStatus.FINISHED:
        return attempt.finished_at is not None and attempt.finished_at >= now - RESULT_SHOWN_FOR
    return True


def link_gone():
    return not_found("seat_link_expired",
                     "Este enlace de computadora ya no es válido: pida al examinador el enlace de su examen.")


def _not_a_link():
    return not_found("seat_not_found", "Este enlace de computadora no es válido.")


async def get_seat_by_token(token: str) -> Seat:
    """The seat a link opens, remembering which attempt (if any) the link is for."""
    if not can_match(Seat, "token", token):
        raise _not_a_link()
    attempt = await ExamAttempt.get_or_none(seat_token=token)
    if attempt is not None:
        if not link_alive(attempt, clock.now()):
            raise link_gone()
        seat = await Seat.get(id=attempt.seat_id).select_related("room", "room__office")
    else:
        seat = await Seat.get_or_none(token=token).select_related("room", "room__office")
        if seat is None:
            raise _not_a_link()
    setattr(seat, _LINKED, attempt)
    return seat


def opened_by_link(seat: Seat) -> bool:
    return hasattr(seat, _LINKED)


async def linked_attempt(seat: Seat) -> ExamAttempt | None:
    """The attempt the link that opened `seat` is for, as it is now, while alive."""
    linked = getattr(seat, _LINKED)
    if linked is None:
        return None
    fresh = await ExamAttempt.get_or_none(id=linked.id)
    if fresh is None or fresh.seat_token != linked.seat_token or not link_alive(fresh, clock.now()):
        return None
    return fresh


def check_link_reaches(seat: Seat, attempt: ExamAttempt) -> None:
    """403 unless the link that opened `seat` was made for `attempt` (and still is)."""
    linked = getattr(seat, _LINKED)
    if linked is None or linked.id != attempt.id:
        raise forbidden("Este enlace de computadora no da acceso a ese examen.")
    if attempt.seat_token != linked.seat_token:
        raise link_gone()


def seat_link(seat: Seat, attempt: ExamAttempt | None) -> str:
    """The token of the link the board shows for `seat`: its candidate's, else its own."""
    if attempt is not None and attempt.seat_token and attempt.seat_id == seat.id:
        return attempt.seat_token
    return seat.token
