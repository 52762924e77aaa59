"""The words of a wait estimate, for every server-side surface a citizen sees: the
templates (registered as the Jinja global `wait_words`, used by templates/_eta.html),
the ESC/POS slip (kiosk/printing.py) and the SMS (notifications/messages.py). The pages
use the same rule in static/js/eta-format.js; tests/unit/test_eta_format.py holds both to
one table of cases.

The rule:
- no estimate: "—";
- 0 with a desk of the line open: "Sin espera" (without the line, a ticket on its own
  never promises it);
- a range (low < high, from queue/eta_range.py): "entre 35 y 50 min", "hasta 8 min"
  when it starts at 0; otherwise the estimate alone: "≈ 12 min";
- all the line's desks closed and the first expected: " (abre 08:00)" after it.
Rounded for reading: below 60 min whole minutes; from 60 min, 5-minute steps (the low
end down, the high end up, a lone figure to the nearest); from 120 min in hours
("≈ 2 h 30 min", "entre 1 h 40 min y 2 h 15 min" — a range whose high end reads in
hours gives both ends in hours)."""

from __future__ import annotations

import math
import re

NONE = "—"
NO_WAIT = "Sin espera"
HOURS_FROM = 120  # minutes: from here a figure reads in hours
STEP_FROM = 60  # minutes: from here figures go in 5-minute steps
STEP = 5


def _known(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _nearest(minutes: float) -> int:
    minutes = max(0.0, float(minutes))
    if minutes < STEP_FROM:
        return math.floor(minutes + 0.5)
    return math.floor(minutes / STEP + 0.5) * STEP


def _down(minutes: float) -> int:
    minutes = max(0.0, float(minutes))
    return math.floor(minutes) if minutes < STEP_FROM else math.floor(minutes / STEP) * STEP


def _up(minutes: float) -> int:
    minutes = max(0.0, float(minutes))
    return math.ceil(minutes) if minutes < STEP_FROM else math.ceil(minutes / STEP) * STEP


def _hours(minutes: int) -> str:
    """60 -> "1 h", 100 -> "1 h 40 min", 45 -> "45 min"."""
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def figure(minutes: int) -> str:
    """A rounded figure: "12 min", "95 min", "2 h 30 min"."""
    return _hours(minutes) if minutes >= HOURS_FROM else f"{minutes} min"


def span(low, high) -> str | None:
    """"entre 35 y 50 min", "hasta 8 min", "entre 2 h y 2 h 30 min"; None when there is
    no range to say (an end unknown, or both ends the same once rounded)."""
    if not (_known(low) and _known(high)):
        return None
    low, high = _down(low), _up(high)
    if high <= low:
        return None
    if high >= HOURS_FROM:
        return f"hasta {_hours(high)}" if low == 0 else f"entre {_hours(low)} y {_hours(high)}"
    return f"hasta {high} min" if low == 0 else f"entre {low} y {high} min"


def _clock(opens_at) -> str | None:
    """"2026-12-07T08:00-04:00" (already in the office's zone) -> "08:00"."""
    match = re.search(r"T(\d{2}:\d{2})", opens_at) if isinstance(opens_at, str) else None
    return match.group(1) if match else None


def no_wait(minutes, open_desks=None) -> bool:
    """True: the estimate reads "Sin espera" (0, and a desk of the line open)."""
    return _known(minutes) and minutes <= 0 and _known(open_desks) and open_desks > 0


def wait_text(minutes, open_desks=None, opens_at=None, low=None, high=None) -> str:
    """The estimate as every surface shows it (see the module's rule)."""
    if not _known(minutes):
        return NONE
    if no_wait(minutes, open_desks):
        return NO_WAIT
    out = span(low, high) or f"≈ {figure(_nearest(minutes))}"
    opens = _clock(opens_at) if open_desks == 0 else None
    return f"{out} (abre {opens})" if opens else out


def spoken(minutes, low=None, high=None) -> str | None:
    """For a message (the SMS's "faltan 3 turnos (entre 10 y 20 min)"): the range, else
    "unos 12 min"; None for no estimate or a lone 0 (nothing worth saying). No "≈":
    an SMS carries GSM-7 only."""
    words = span(low, high) if _known(minutes) else None
    if words is None and _known(minutes) and _nearest(minutes) > 0:
        words = f"unos {figure(_nearest(minutes))}"
    return words


def labelled(minutes, open_desks=None, opens_at=None, low=None, high=None, label: str = "Espera estimada") -> str:
    """"Sin espera" alone; any other figure after a label: "Espera estimada: entre 35 y 50 min"."""
    if no_wait(minutes, open_desks):
        return NO_WAIT
    return f"{label}: {wait_text(minutes, open_desks, opens_at, low, high)}"


def ticket_wait(view, line=None) -> str:
    """A ticket's estimate (its view: GET /api/tickets/{id}), with its trámite's entry of
    the office's estimates when at hand (for "Sin espera" and "abre")."""
    line = line or {}
    return wait_text(view.get("estimated_wait_minutes"), line.get("open_desks"), line.get("opens_at"),
                     view.get("estimated_wait_low_minutes"), view.get("estimated_wait_high_minutes"))


def line_wait(entry, preferential: bool = False) -> str:
    """A trámite's estimate (its entry of GET /api/offices/{office}/estimates)."""
    suffix = "_preferential" if preferential else ""
    return wait_text(entry.get(f"estimated_wait_minutes{suffix}"), entry.get("open_desks"), entry.get("opens_at"),
                     entry.get(f"estimated_wait_low_minutes{suffix}"), entry.get(f"estimated_wait_high_minutes{suffix}"))
