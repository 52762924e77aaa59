"""Pure exam rules: the question draw, scoring, the timer, eligibility, late arrival.

Plain values in, plain values out — no database, no clock reads (callers pass `now`).
The booking engine calls `eligibility` before accepting an exam booking.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from turnero.settings import Settings

CATEGORIES = ("A", "B", "C", "M", "P", "T")
CATEGORY_NAMES = {
    "A": "A — profesional (automóviles, vagonetas, taxis)",
    "B": "B — profesional (minibuses, microbuses, camiones medianos)",
    "C": "C — profesional (buses, camiones pesados, remolques)",
    "M": "M — motocicletas",
    "P": "P — particular",
    "T": "T — tractores y maquinaria especial",
}


@dataclass(frozen=True)
class ExamConfig:
    questions_per_exam: int = 20
    duration: timedelta = timedelta(minutes=30)
    pass_mark: float = 0.80  # fraction of questions answered correctly
    retake_wait: timedelta = timedelta(days=7)  # after a failed attempt
    max_attempts: int = 3  # scored attempts per candidate and category
    # Check-in closes this long after the session starts (0: refused once it starts).
    late_grace: timedelta = timedelta(0)
    # Check-in opens this long before the session starts.
    checkin_opens: timedelta = timedelta(minutes=60)

    @classmethod
    def from_settings(cls, settings: Settings) -> "ExamConfig":
        """The TURNERO_EXAM_* settings (README: «Examen teórico»)."""
        return cls(
            questions_per_exam=settings.exam_questions,
            duration=timedelta(minutes=settings.exam_minutes),
            pass_mark=settings.exam_pass_percent / 100,
            retake_wait=timedelta(days=settings.exam_retake_wait_days),
            max_attempts=settings.exam_max_attempts,
            late_grace=timedelta(minutes=settings.exam_late_grace_minutes),
            checkin_opens=timedelta(minutes=settings.exam_checkin_opens_minutes),
        )


# ---------------------------------------------------------------- the draw


def draw_questions(question_ids: Iterable[int], count: int, seed: int) -> list[int]:
    """`count` questions (all if fewer) in a random order fixed by `seed`: the same seed
    and bank always give the same questions in the same order, so a reload of the seat
    page shows exactly what the candidate saw."""
    pool = sorted(set(question_ids))  # independent of the order the database returns
    return random.Random(seed).sample(pool, min(count, len(pool)))


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Score:
    correct: int
    total: int
    percent: float
    passed: bool


def required_correct(total: int, pass_mark: float) -> int:
    """Correct answers needed to pass (rounded up: 80 % of 19 is 16, not 15.2)."""
    return math.ceil(round(total * pass_mark, 9))


def score(drawn: Sequence[int], correct_choice: Mapping[int, int], answers: Mapping[int, int],
          pass_mark: float) -> Score:
    """Score the drawn questions: an unanswered question counts as wrong, and answers to
    questions not drawn are ignored."""
    total = len(drawn)
    right = sum(1 for q in drawn if q in answers and answers[q] == correct_choice.get(q))
    percent = round(100 * right / total, 1) if total else 0.0
    return Score(right, total, percent, total > 0 and right >= required_correct(total, pass_mark))


# ---------------------------------------------------------------- the timer


def deadline(started_at: datetime, duration: timedelta, remaining: timedelta | None = None) -> datetime:
    """When an attempt started at `started_at` ends; `remaining` (time left when the
    attempt was paused, e.g. by a seat swap) replaces the full duration."""
    return started_at + (remaining if remaining is not None else duration)


def seconds_left(deadline_at: datetime, now: datetime) -> int:
    return max(0, math.ceil((deadline_at - now).total_seconds()))


# ---------------------------------------------------------------- eligibility


@dataclass(frozen=True)
class PastAttempt:
    """A scored attempt of the same candidate (document) and category."""

    finished_at: datetime
    passed: bool


@dataclass(frozen=True)
class Eligibility:
    allowed: bool
    code: str = "eligible"
    message: str = ""
    not_before: datetime | None = None  # for retake_too_soon: first moment allowed


def eligibility(past: Iterable[PastAttempt], now: datetime, config: ExamConfig) -> Eligibility:
    """May a candidate take (or book) another attempt? Refused once passed, once the
    maximum of attempts is used, and until the waiting period after a failure ends."""
    scored = sorted(past, key=lambda a: a.finished_at)
    if any(a.passed for a in scored):
        return Eligibility(False, "already_passed", "El postulante ya aprobó el examen de esta categoría.")
    if len(scored) >= config.max_attempts:
        return Eligibility(
            False, "attempts_exhausted",
            f"El postulante agotó los {config.max_attempts} intentos permitidos para esta categoría.",
        )
    if scored:
        not_before = scored[-1].finished_at + config.retake_wait
        if now < not_before:
            return Eligibility(
                False, "retake_too_soon",
                "Tras un examen reprobado debe esperar "
                f"{_days(config.retake_wait)} antes de volver a rendirlo.",
                not_before,
            )
    return Eligibility(True)


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    if days >= 1 and days == int(days):
        return f"{int(days)} día" + ("" if days == 1 else "s")
    return f"{int(span.total_seconds() // 3600)} horas"


# ---------------------------------------------------------------- arrival


def checkin_refusal(now: datetime, session_start: datetime, config: ExamConfig) -> tuple[str, str] | None:
    """Why a check-in at `now` is refused for a session starting at `session_start`
    (code, message), or None when it is on time."""
    if now < session_start - config.checkin_opens:
        return "checkin_too_early", "El registro para esta sesión aún no está abierto."
    if now > session_start + config.late_grace:
        return "late_arrival", "La sesión ya comenzó: no se admiten postulantes que llegan tarde."
    return None


# ---------------------------------------------------------------- seats


def lowest_free_seat(seats: Iterable[tuple[int, int, bool]], taken: Iterable[int]) -> int | None:
    """The id of the lowest-numbered seat in service not taken; seats are
    (id, number, in_service)."""
    busy = set(taken)
    free = sorted((number, seat_id) for seat_id, number, ok in seats if ok and seat_id not in busy)
    return free[0][1] if free else None
