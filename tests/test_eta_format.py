"""One way to show a wait estimate on every surface: the pages' formatter
(static/js/eta-format.js) and the server templates' macro (templates/_eta.html) give
the same words for the same fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_pages import _new_page, browser  # noqa: F401

JS = Path(__file__).resolve().parent.parent / "turnero" / "static" / "js" / "eta-format.js"

# (minutes, the line's entry of the estimates or None, what every surface shows)
CASES = [
    (None, None, "—"),
    (None, {"open_desks": 2, "opens_at": None}, "—"),
    (0, {"open_desks": 1, "opens_at": None}, "Sin espera"),
    (0, {"open_desks": 0, "opens_at": None}, "≈ 0 min"),  # no desk open: never "Sin espera"
    (0, None, "≈ 0 min"),  # a ticket on its own: it cannot see a desk open
    (25, {"open_desks": 0, "opens_at": "2026-12-07T08:00-04:00"}, "≈ 25 min (abre 08:00)"),
    (12, {"open_desks": 3, "opens_at": "2026-12-07T08:00-04:00"}, "≈ 12 min"),  # open: no "abre"
    (4, {"open_desks": 1, "opens_at": None}, "≈ 4 min"),
    (7, None, "≈ 7 min"),
]


def test_the_template_macro_follows_the_rule():
    from turnero.core.templating import templates

    macro = templates.env.get_template("_eta.html").module.wait_text
    for minutes, line, shown in CASES:
        args = (minutes,) if line is None else (minutes, line["open_desks"], line["opens_at"])
        assert str(macro(*args)) == shown, (minutes, line)


@pytest.mark.browser
def test_the_pages_formatter_follows_the_same_rule(browser):  # noqa: F811
    page = _new_page(browser)
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(content=JS.read_text(encoding="utf-8"))
    got = page.evaluate(
        "cases => cases.map(([m, line]) => [TurneroEta.text(m, line === null ? undefined : line),"
        " TurneroEta.labelled(m, line === null ? undefined : line)])",
        [[m, line] for m, line, _shown in CASES],
    )
    for (minutes, line, shown), (text, labelled) in zip(CASES, got):
        assert text == shown, (minutes, line)
        assert labelled == ("Sin espera" if shown == "Sin espera" else "Espera estimada: " + shown)
    assert page.errors == []
