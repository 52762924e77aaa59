"""The queue's settings: the call-next policy, the grace before a day's waiting tickets
are cancelled, and how a waiting ticket's wait is estimated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from turnero.queue import policy
from turnero.settings import Settings


@dataclass(frozen=True)
class QueueConfig:
    policy: policy.PolicyConfig = policy.PolicyConfig()
    day_close_grace: timedelta = timedelta(minutes=60)
    # Waits of waiting tickets from the queue played forward (eta_service) instead of
    # the position-based figure; the running service turns it on.
    predict_waits: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "QueueConfig":
        return cls(
            policy=policy.PolicyConfig(
                preferential_ratio=max(1, settings.preferential_ratio),
                regular_max_wait=timedelta(minutes=settings.regular_max_wait_minutes),
            ),
            day_close_grace=timedelta(minutes=settings.day_close_grace_minutes),
            predict_waits=settings.predict_waits,
        )
