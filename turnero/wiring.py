"""How the domains plug into each other, in one place (like app.py, above every domain):
the kinds of service the citas engine books (scheduler/kinds.py: the theory exam and
the practical test) and the reactions to other domains' events (core/hooks.py: the
notifications' subscribers). Every entry point that runs the domains calls `wire()`
once before using them — the app, the command line, the tests and the benchmarks; it
is idempotent and cheap. Core never imports a domain, not even by name."""

from __future__ import annotations

from turnero.exam import booking as exam_booking
from turnero.notifications import subscribers as notification_subscribers


def wire() -> None:
    exam_booking.register_kind()
    notification_subscribers.register()
