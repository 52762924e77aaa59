"""Issue 17: CSP (no inline script), no framing, nosniff and Referrer-Policy on every
response; the templates hold no inline script, handler or style attribute; every page,
/docs included, runs in Chromium without a CSP violation."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.api.test_pages import OFFICE, _new_page, _sign_in, _token, browser, page_login  # noqa: F401

TEMPLATES = Path(__file__).resolve().parents[2] / "turnero" / "templates"


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _assert_headers(response, docs: bool = False) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.url
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    csp = _directives(headers["content-security-policy"])
    assert csp["script-src"] == ["'self'"], csp  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["style-src"] == (["'self'", "'unsafe-inline'"] if docs else ["'self'"])


async def test_every_kind_of_response_carries_the_security_headers(client):
    await page_login(client, "admin")
    for path in ("/", "/login", "/admin", f"/kiosk/{OFFICE}", f"/display/{OFFICE}", "/citas",
                 "/api/services", "/openapi.json", "/static/js/api.js", "/static/css/app.css",
                 "/no-such-page", "/api/no-such-thing", "/healthz"):
        response = await client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        _assert_headers(response)
    client.cookies.clear()
    response = await client.post(f"/api/offices/{OFFICE}/closures", json={})
    assert response.status_code == 401
    _assert_headers(response)
    _assert_headers(await client.get("/login?next=/admin"))


async def test_the_docs_page_has_its_own_policy(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    _assert_headers(response, docs=True)
    _assert_headers(await client.get("/docs/assets/swagger-ui-bundle.js"), docs=True)


async def test_a_page_keeps_a_stricter_referrer_policy_it_set_itself(client):
    from starlette.responses import Response

    from turnero.core.http import SecurityHeadersMiddleware

    async def app(scope, receive, send):
        await Response("x", headers={"Referrer-Policy": "no-referrer"})(scope, receive, send)

    transport = httpx.ASGITransport(app=SecurityHeadersMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        response = await c.get("/")
    assert response.headers.get_list("referrer-policy") == ["no-referrer"]
    assert response.headers["x-frame-options"] == "DENY"


def test_no_template_has_inline_script_handlers_or_style_attributes():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        name = path.relative_to(TEMPLATES)
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{name}: inline {tag}")
        for handler in re.findall(r"\son[a-z]+\s*=", text):
            offenders.append(f"{name}: handler {handler.strip()}")
        if re.search(r"\sstyle\s*=", text):
            offenders.append(f"{name}: style attribute")
        if "javascript:" in text:
            offenders.append(f"{name}: javascript: URL")
    assert offenders == []


# ---------------------------------------------------------------- in Chromium


def _watch(page) -> list[str]:
    """Console errors and CSP violation events of `page` (and its reloads)."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    return problems


@pytest.mark.browser
def test_every_page_runs_under_the_csp_without_a_violation(browser, live_server):
    kiosk = _token(live_server, "kiosko")
    ticket = httpx.post(f"{live_server.url}/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"},
                        headers=kiosk)
    assert ticket.status_code == 201, ticket.text
    public_id = ticket.json().get("public_id") or ticket.json()["id"]
    ticket_id = ticket.json()["id"]

    page = _new_page(browser)
    problems = _watch(page)
    # Anonymous pages first: the citizen's ticket, the booking portal.
    for path in (f"/t/{public_id}", "/citas", "/citas/consultar", "/login", "/"):
        response = page.goto(live_server.url + path)
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/login?next=/admin")
    _sign_in(page, "admin")
    page.wait_for_url("**/admin")
    visited = []
    paths = [
        "/", "/admin", f"/admin/offices/{OFFICE}", f"/admin/offices/{OFFICE}/calendar",
        f"/admin/offices/{OFFICE}/report", "/admin/services", "/admin/users", "/admin/audit",
        f"/kiosk/{OFFICE}", f"/kiosk/ticket/{ticket_id}/print", f"/display/{OFFICE}",
        f"/desk/{OFFICE}", f"/supervisor/{OFFICE}/balancing", f"/exam/{OFFICE}", "/docs",
    ]
    while paths:
        path = paths.pop(0)
        response = page.goto(live_server.url + path)
        assert response.status == 200, (path, response.status)
        try:
            page.wait_for_load_state("networkidle", timeout=4000)
        except Exception:  # the live pages keep a socket open
            page.wait_for_timeout(800)
        visited.append(path)
        problems.append(f"-- {path}")
        if path == f"/desk/{OFFICE}":
            consoles = page.locator(f'a[href^="/desk/{OFFICE}/"]')
            if consoles.count():
                paths.append(consoles.first.get_attribute("href"))
        if path == f"/exam/{OFFICE}":
            boards = page.locator('a[href*="/sessions/"]')
            if boards.count():
                paths.append(boards.first.get_attribute("href"))
        if path == "/docs":
            page.locator(".swagger-ui .info .title").wait_for(timeout=10000)
            assert "Turnero API" in page.locator(".swagger-ui .info .title").inner_text()
            assert page.locator(".opblock").count() > 10
    assert any(p.startswith(f"/desk/{OFFICE}/") for p in visited), visited
    assert [p for p in problems if "Content Security Policy" in p or "CSP violation" in p] == [], "\n".join(problems)
    assert page.errors == []
    page.context.close()
