"""May a document book or sit an exam of a category: its past attempts against the
policy (waiting period after a fail, attempt limit, already passed). The booking
engine asks this too (booking.check_booking), so it imports nothing else of the exam."""

from __future__ import annotations

from datetime import datetime

from turnero.core import clock
from turnero.exam import policy
from turnero.exam.models import AttemptStatus, ExamAttempt
from turnero.exam.policy import ExamConfig


async def past_attempts(document: str, category: str) -> list[policy.PastAttempt]:
    rows = await ExamAttempt.filter(
        document=document, category=category, status=AttemptStatus.FINISHED
    ).values_list("finished_at", "passed")
    return [policy.PastAttempt(finished_at, bool(passed)) for finished_at, passed in rows]


async def check_eligibility(document: str, category: str, config: ExamConfig,
                            now: datetime | None = None) -> policy.Eligibility:
    """For the booking engine too: may this document book or sit an exam of `category`?"""
    return policy.eligibility(await past_attempts(document, category), now or clock.now(), config)


