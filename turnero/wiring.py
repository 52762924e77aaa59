"""How the domains plug into each other, in one place (like app.py, above every domain),
with the one settings object of the process: the kinds of service the citas engine
books (scheduler/kinds.py: the theory exam and the practical test, with their rules),
the reactions to other domains' events (core/hooks.py: the notifications' subscribers,
with the notification settings), and the process-wide knobs (password hashing cost,
how long the booking engine trusts what it knows of a slot's places), and the citas the
wait estimate expects today (scheduler/expected.py, read by queue/eta_inputs.py). Every entry point
that runs the domains calls `wire(settings)` once before using them — the app, the
command line, the tests and the benchmarks; again (other settings) replaces what it set.
Core never imports a domain, not even by name."""

from __future__ import annotations

from turnero.core import auth
from turnero.exam import booking as exam_booking
from turnero.exam.licence_path import PathRules
from turnero.exam.policy import ExamConfig
from turnero.notifications import subscribers as notification_subscribers
from turnero.notifications.policy import NotificationConfig
from turnero.queue import eta_inputs
from turnero.scheduler import places
from turnero.scheduler.config import SchedulerConfig
from turnero.scheduler.expected import expected_citas
from turnero.settings import Settings


def wire(settings: Settings) -> None:
    auth.use_argon2_profile(settings.argon2_profile)
    places.set_fresh_seconds(settings.places_fresh_seconds)
    exam_booking.register_kind(ExamConfig.from_settings(settings), PathRules.from_settings(settings))
    notification_subscribers.register(NotificationConfig.from_settings(settings))
    late = SchedulerConfig.from_settings(settings).checkin.after  # citas still let in this late
    eta_inputs.expect_citas(lambda office_id, midnight, now: expected_citas(office_id, midnight, now, late))
