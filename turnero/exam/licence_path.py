"""Pure rules of the licence path after the theory exam (issue 20): the medical and
psychological evaluation and the practical driving test, two bookable steps whose
results the examiner records (licence_results.py).

DEMO RULES (the seeds give no figures; an office changes them with the environment,
README «Examen práctico»):
- the practical test may be booked only with a PASSED theory exam of the same person
  (document number) and category, and only for a day within THEORY_VALID_DAYS (90) of
  that pass;
- after a failed practical, the next one not before RETAKE_WAIT_DAYS (7) days, and at
  most MAX_PRACTICAL_ATTEMPTS (3) practicals per theory pass: after the third fail the
  candidate passes the theory exam again.

Plain values in, plain values out: no database, no clock reads (callers pass the times).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from turnero.settings import Settings

MEDICAL = "LIC-EVAL-MEDICA"
PRACTICAL = "LIC-PRACTICO"
STEPS = {MEDICAL: "medical", PRACTICAL: "practical"}  # service code -> the result's step
NOTES_MAX = 500


@dataclass(frozen=True)
class PathRules:
    theory_valid: timedelta = timedelta(days=90)
    retake_wait: timedelta = timedelta(days=7)
    max_practical_attempts: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> "PathRules":
        return cls(
            theory_valid=timedelta(days=settings.licence_theory_valid_days),
            retake_wait=timedelta(days=settings.licence_retake_wait_days),
            max_practical_attempts=settings.licence_max_practical_attempts,
        )


@dataclass(frozen=True)
class PracticalResult:
    """A recorded practical test of the same document and category."""

    at: datetime
    passed: bool


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    code: str = "allowed"
    message: str = ""
    not_before: datetime | None = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def practical_verdict(theory_passes: Iterable[datetime], practicals: Iterable[PracticalResult],
                      at: datetime, now: datetime, rules: PathRules) -> Verdict:
    """May a practical test on `at` (the cita's start) be booked at `now`?

    `theory_passes`: when the candidate passed the theory exam of the category;
    `practicals`: the practical results recorded for the same document and category.
    The theory pass that counts is the latest one taken by `now`; it must still be valid
    on `at`. Practicals count from that pass on (a new theory pass starts a new series).
    """
    passes = sorted(p for p in theory_passes if p <= now)
    if not passes:
        return Verdict(False, "theory_exam_required",
                       "Para reservar el examen práctico debe haber aprobado el examen teórico de la misma "
                       "categoría.")
    theory = passes[-1]
    if at > theory + rules.theory_valid:
        return Verdict(False, "theory_exam_required",
                       f"El examen teórico aprobado vale {_plural(rules.theory_valid.days, 'día')}: el examen "
                       "práctico debe ser dentro de ese plazo. Vuelva a rendir el examen teórico.",
                       None)
    series = sorted((r for r in practicals if r.at >= theory), key=lambda r: r.at)
    if any(r.passed for r in series):
        return Verdict(False, "practical_already_passed",
                       "El postulante ya aprobó el examen práctico de esta categoría.")
    if len(series) >= rules.max_practical_attempts:
        return Verdict(False, "practical_attempts_exhausted",
                       f"El postulante agotó los {rules.max_practical_attempts} intentos del examen práctico: "
                       "debe aprobar nuevamente el examen teórico.")
    if series:
        not_before = series[-1].at + rules.retake_wait
        if at < not_before:
            return Verdict(False, "retake_too_soon",
                           "Tras un examen práctico reprobado debe esperar "
                           f"{_plural(rules.retake_wait.days, 'día')} para volver a rendirlo.", not_before)
    return Verdict(True)
