"""Issue 17: a state change the session cookie authenticates must come from this very
server (Origin, else Referer) and, under /api/, carry JSON; bearer clients and requests
without the cookie are unaffected. The browser test forges the request from a page on
another port of the same host (same site: the SameSite=Strict cookie goes along)."""

from __future__ import annotations

import http.server
import secrets
import threading

import pytest

from tests.conftest import assert_error, free_port
from tests.api.test_pages import OFFICE, _new_page, _sign_in, browser, page_login  # noqa: F401
from turnero.core.http import same_origin

CLOSURES = f"/api/offices/{OFFICE}/closures"


async def _closures(reason: str) -> int:
    from turnero.scheduler.models import OfficeClosure

    return await OfficeClosure.filter(reason=reason).count()


def test_same_origin_compares_scheme_host_and_port():
    assert same_origin("http://testserver", "http", "testserver")
    assert same_origin("http://TestServer:80", "http", "testserver")
    assert same_origin("https://turnos.example.bo", "https", "turnos.example.bo:443")
    # A TLS-terminating proxy that sends no trusted X-Forwarded-Proto: the app sees http.
    assert same_origin("https://turnos.example.bo", "http", "turnos.example.bo")
    assert same_origin("http://[::1]:8000/admin?x=1", "http", "[::1]:8000")
    assert not same_origin("http://127.0.0.1:8001", "http", "127.0.0.1:8000")
    assert not same_origin("http://evil.example", "http", "testserver")
    assert not same_origin("http://turnos.example.bo", "https", "turnos.example.bo")  # http page → https app
    assert not same_origin("null", "http", "testserver")
    assert not same_origin("http://testserver@evil.example", "http", "testserver")
    assert not same_origin("http://testserver", "http", "")


async def test_cross_origin_text_plain_post_with_the_cookie_is_refused_and_changes_nothing(client):
    await page_login(client, "admin")
    reason = "CSRF " + secrets.token_hex(4)
    body = '{"date": "2026-12-16", "reason": "%s"}' % reason
    for headers in (
        {"Origin": "http://127.0.0.1:9999", "Content-Type": "text/plain"},
        {"Origin": "http://127.0.0.1:9999", "Content-Type": "application/json"},  # origin alone refuses
        {"Origin": "http://testserver", "Content-Type": "text/plain"},  # a text/plain body alone too
        {"Referer": "http://evil.example/page", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ):
        response = await client.post(CLOSURES, content=body, headers=headers)
        error = assert_error(response, 403, "csrf_rejected")
        assert "origen" in error["message"], headers
        assert response.headers["x-frame-options"] == "DENY"
    # DELETE/PUT/PATCH too; GET is never checked.
    assert_error(await client.delete(f"{CLOSURES}/2026-12-16", headers={"Origin": "http://evil.example"}),
                 403, "csrf_rejected")
    assert (await client.get(f"/admin/offices/{OFFICE}/calendar",
                             headers={"Origin": "http://evil.example"})).status_code == 200
    assert await _closures(reason) == 0


async def test_same_origin_json_post_with_the_cookie_works(client):
    await page_login(client, "admin")
    reason = "Inventario " + secrets.token_hex(4)
    response = await client.post(CLOSURES, json={"date": "2026-12-16", "reason": reason},
                                 headers={"Origin": "http://testserver"})
    assert response.status_code == 201, response.text
    assert await _closures(reason) == 1
    # What the page's api.js sends: JSON with its Referer only, or a bodyless POST.
    response = await client.post(CLOSURES, json={"date": "2026-12-17", "reason": reason},
                                 headers={"Referer": f"http://testserver/admin/offices/{OFFICE}/calendar"})
    assert response.status_code == 201, response.text
    # A client that sends neither header is no browser (they always send Origin cross-site).
    response = await client.post(CLOSURES, json={"date": "2026-12-18", "reason": reason})
    assert response.status_code == 201, response.text
    assert await _closures(reason) == 3


async def test_bearer_token_and_cookieless_requests_are_unaffected(client, admin):
    reason = "Bearer " + secrets.token_hex(4)
    # A bearer token with no Origin, or with any Origin and a text/plain body: not a session.
    response = await client.post(CLOSURES, json={"date": "2026-12-16", "reason": reason}, headers=admin)
    assert response.status_code == 201, response.text
    client.cookies.clear()
    response = await client.post(
        CLOSURES, content='{"date": "2026-12-17", "reason": "%s"}' % reason,
        headers={**admin, "Origin": "http://elsewhere.example", "Content-Type": "text/plain"},
    )
    assert response.status_code != 403, response.text
    # No cookie, no token: the usual 401, not a CSRF refusal.
    response = await client.post(CLOSURES, json={"date": "2026-12-18", "reason": reason},
                                 headers={"Origin": "http://elsewhere.example"})
    assert_error(response, 401, "unauthorized")
    # Login and token endpoints take no cookie: they work from anywhere as before.
    response = await client.post("/api/auth/token", json={"username": "kiosko", "password": "demo"},
                                 headers={"Origin": "http://elsewhere.example"})
    assert response.status_code == 200


async def test_the_logout_form_needs_a_same_origin_post(client):
    await page_login(client, "admin")
    refused = await client.post("/logout", headers={"Origin": "http://elsewhere.example"})
    assert_error(refused, 403, "csrf_rejected")
    assert (await client.get("/admin")).status_code == 200  # still signed in
    out = await client.post("/logout", headers={"Origin": "http://testserver"})
    assert out.status_code == 303


# ---------------------------------------------------------------- in Chromium


class _AttackerPage(http.server.BaseHTTPRequestHandler):
    html = b""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args):
        pass


@pytest.mark.browser
def test_a_form_on_another_origin_of_the_same_site_is_refused(browser, live_server):
    """Signed in as admin, a page on another port of 127.0.0.1 (same site: the Strict
    cookie goes along) auto-submits a text/plain form that reads as JSON: 403, and no
    closure appears on the calendar page."""
    reason = "Forjado " + secrets.token_hex(4)
    target = f"{live_server.url}{CLOSURES}"
    name = '{"date": "2026-12-21", "reason": "' + reason + '", "x": "'
    _AttackerPage.html = (
        "<!doctype html><html><body>"
        f'<form id="f" method="post" enctype="text/plain" action="{target}">'
        f"<input type=\"hidden\" name='{name}' value='\"}}'></form>"
        "<script>document.getElementById('f').submit();</script></body></html>"
    ).encode()
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = _new_page(browser)
        page.goto(f"{live_server.url}/login?next=/admin")
        _sign_in(page, "admin")
        page.wait_for_url("**/admin")
        with page.expect_response(lambda r: r.url == target) as answer:
            page.goto(f"http://127.0.0.1:{port}/")
        response = answer.value
        assert response.status == 403
        assert response.request.headers.get("origin") == f"http://127.0.0.1:{port}"
        assert "csrf_rejected" in response.text()
        page.goto(f"{live_server.url}/admin/offices/{OFFICE}/calendar")
        assert page.locator("#new-closure").count() == 1  # still signed in, page rendered
        assert reason not in page.content()
        # The same form posted by the app's own page (same origin, JSON) still closes a day.
        page.evaluate(
            """async ([url, reason]) => {
                const res = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: JSON.stringify({date: "2026-12-22", reason})});
                if (res.status !== 201) throw new Error("status " + res.status);
            }""",
            [CLOSURES, reason],
        )
        page.reload()
        assert reason in page.content()
        assert page.errors == []
        page.context.close()
    finally:
        server.shutdown()
        server.server_close()
