"""One way to show a wait estimate on every surface: the pages' formatter
(static/js/eta-format.js), the server's words (turnero/core/wait_words.py, used by the
templates' macro in templates/_eta.html, the ESC/POS slip and the SMS) give the same
words for the same fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_pages import _new_page, browser  # noqa: F401
from turnero.core import wait_words

JS = Path(__file__).resolve().parents[2] / "turnero" / "static" / "js" / "eta-format.js"

OPEN = {"open_desks": 1, "opens_at": None}
CLOSED_8 = {"open_desks": 0, "opens_at": "2026-12-07T08:00-04:00"}

# (minutes, low, high, the line's entry of the estimates or None, what every surface shows)
CASES = [
    # no estimate
    (None, None, None, None, "—"),
    (None, None, None, {"open_desks": 2, "opens_at": None}, "—"),
    (None, 10, 20, OPEN, "—"),  # a range without its estimate says nothing either
    # "Sin espera": 0 with a desk of the line open, range or not
    (0, None, None, OPEN, "Sin espera"),
    (0, 0, 4, OPEN, "Sin espera"),
    (0, None, None, {"open_desks": 0, "opens_at": None}, "≈ 0 min"),  # no desk open: never "Sin espera"
    (0, None, None, None, "≈ 0 min"),  # a ticket on its own: it cannot see a desk open
    (0, 0, 4, None, "hasta 4 min"),  # a range from 0
    # the estimate alone, no range (or a range of one figure)
    (25, None, None, CLOSED_8, "≈ 25 min (abre 08:00)"),
    (12, None, None, {"open_desks": 3, "opens_at": "2026-12-07T08:00-04:00"}, "≈ 12 min"),  # open: no "abre"
    (4, None, None, OPEN, "≈ 4 min"),
    (7, None, None, None, "≈ 7 min"),
    (7, 7, 7, None, "≈ 7 min"),  # low == high
    (7, 7, None, None, "≈ 7 min"),  # one end unknown
    (12.4, None, None, None, "≈ 12 min"),
    (12.5, None, None, None, "≈ 13 min"),  # half up (not banker's rounding)
    (-3, None, None, None, "≈ 0 min"),
    # ranges below an hour: whole minutes
    (40, 35, 50, OPEN, "entre 35 y 50 min"),
    (40, 35, 50, None, "entre 35 y 50 min"),
    (25, 18, 40, CLOSED_8, "entre 18 y 40 min (abre 08:00)"),
    (40, 35, 50, {"open_desks": 0, "opens_at": None}, "entre 35 y 50 min"),  # closed, time unknown
    (10, 4, 21, None, "entre 4 y 21 min"),
    (12, 11.5, 13.2, None, "entre 11 y 14 min"),  # low down, high up
    # from an hour: 5-minute steps, the low end down, the high end up, a figure to the nearest
    (62, None, None, None, "≈ 60 min"),
    (63, None, None, None, "≈ 65 min"),
    (118, None, None, None, "≈ 2 h"),  # 120 once rounded: in hours
    (58, 50, 61, None, "entre 50 y 65 min"),
    (70, 62, 84, None, "entre 60 y 85 min"),
    (90, 71, 119, OPEN, "entre 1 h 10 min y 2 h"),  # the high end reads in hours: both ends do
    (100, 96, 104, None, "entre 95 y 105 min"),
    (115, 111, 114, None, "entre 110 y 115 min"),
    # from two hours: hours ("entre 2 h y 2 h 30 min")
    (137, None, None, None, "≈ 2 h 15 min"),
    (180, None, None, None, "≈ 3 h"),
    (135, 121, 150, None, "entre 2 h y 2 h 30 min"),
    (130, 100, 160, None, "entre 1 h 40 min y 2 h 40 min"),
    (100, 45, 125, None, "entre 45 min y 2 h 5 min"),
    (150, 122, 183, CLOSED_8, "entre 2 h y 3 h 5 min (abre 08:00)"),
    (130, 0, 121, None, "hasta 2 h 5 min"),
    (240, 200, 300, OPEN, "entre 3 h 20 min y 5 h"),
]


def _line_args(line):
    return (None, None) if line is None else (line["open_desks"], line["opens_at"])


def test_the_server_words_follow_the_rule():
    for minutes, low, high, line, shown in CASES:
        assert wait_words.wait_text(minutes, *_line_args(line), low, high) == shown, (minutes, low, high, line)
        labelled = wait_words.labelled(minutes, *_line_args(line), low, high)
        assert labelled == ("Sin espera" if shown == "Sin espera" else "Espera estimada: " + shown)


def test_the_template_macros_follow_the_rule():
    from turnero.core.templating import templates

    module = templates.env.get_template("_eta.html").module
    for minutes, low, high, line, shown in CASES:
        args = (minutes, *_line_args(line), low, high)
        assert str(module.wait_text(*args)) == shown, (minutes, low, high, line)
        ticket = {"estimated_wait_minutes": minutes, "estimated_wait_low_minutes": low,
                  "estimated_wait_high_minutes": high}
        assert str(module.ticket_wait(ticket, line)) == shown, (minutes, low, high, line)
        for preferential, x in ((False, ""), (True, "_preferential")):
            entry = {**(line or {}), f"estimated_wait_minutes{x}": minutes,
                     f"estimated_wait_low_minutes{x}": low, f"estimated_wait_high_minutes{x}": high}
            if line is None:
                continue  # an entry of the estimates always has its desks
            assert str(module.line_wait(entry, preferential)) == shown, (minutes, low, high, line)


@pytest.mark.browser
def test_the_pages_formatter_follows_the_same_rule(browser):  # noqa: F811
    page = _new_page(browser)
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(content=JS.read_text(encoding="utf-8"))
    got = page.evaluate(
        """cases => cases.map(([m, low, high, line]) => {
             const l = line === null ? undefined : line;
             const t = {estimated_wait_minutes: m, estimated_wait_low_minutes: low, estimated_wait_high_minutes: high};
             const p = Object.assign({}, l, {estimated_wait_minutes_preferential: m,
               estimated_wait_low_minutes_preferential: low, estimated_wait_high_minutes_preferential: high});
             return [TurneroEta.text(m, l, low, high), TurneroEta.labelled(m, l, low, high),
                     TurneroEta.ticket(t, l), TurneroEta.line(p, true), TurneroEta.labelledLine(p, true)];
           })""",
        [[m, low, high, line] for m, low, high, line, _shown in CASES],
    )
    for (minutes, low, high, line, shown), (text, labelled, ticket, entry, entry_labelled) in zip(CASES, got):
        case = (minutes, low, high, line)
        assert text == shown, case
        assert ticket == shown, case
        assert labelled == ("Sin espera" if shown == "Sin espera" else "Espera estimada: " + shown), case
        if line is not None:
            assert entry == shown, case
            assert entry_labelled == labelled, case
    assert page.errors == []
