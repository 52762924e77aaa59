"""Every error the HTTP API can answer, and the rule behind them all: bad input gets a
4xx in the one error shape `{"error": {"code", "message"}}`, changes nothing in the
database, and is never a 500."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from tests.conftest import assert_error, login
from tests.driver import issue
from turnero.app import api_routes
from turnero.core.models import ApiToken
from turnero.queue.models import Desk, DeskEvent, Ticket, TicketCounter, TicketEvent

OFFICE = "LPZ-PRINCIPAL"
ISSUE = f"/api/offices/{OFFICE}/tickets"


# ---------------------------------------------------------------- helpers


async def called_ticket(client, op, kiosk, desk="3") -> dict:
    await issue(client, kiosk)
    assert (await client.post(f"/api/offices/{OFFICE}/desks/{desk}/open", headers=op)).status_code == 200
    response = await client.post(f"/api/offices/{OFFICE}/desks/{desk}/call-next", headers=op)
    assert response.status_code == 200, response.text
    return response.json()


async def db_snapshot() -> dict:
    """Everything a rejected request must leave as it was."""
    return {
        "tickets": await Ticket.all().order_by("id").values(
            "id", "status", "service_id", "desk_id", "recall_count", "called_at", "started_at", "finished_at",
            "hop", "number", "party_size", "priority", "phone",
        ),
        "counters": await TicketCounter.all().order_by("id").values("prefix", "day", "value"),
        "events": await TicketEvent.all().count(),
        "desks": await Desk.all().order_by("id").values("id", "status", "operator_id", "preferential_streak"),
        "desk_events": await DeskEvent.all().count(),
    }


@pytest.fixture
async def op(client) -> dict:
    return await login(client, "operador3")


# ---------------------------------------------------------------- malformed bodies (400)

MALFORMED = [
    pytest.param(b"{", id="truncated"),
    pytest.param(b"{'service': 'CI-RENOV'}", id="single-quotes"),
    pytest.param(b"service=CI-RENOV", id="form-encoded"),
    pytest.param(b'{"service": "CI-RENOV",}', id="trailing-comma"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    pytest.param(b"[]", id="json-list"),
    pytest.param(b'[{"service": "CI-RENOV"}]', id="list-of-object"),
    pytest.param(b'"CI-RENOV"', id="json-string"),
    pytest.param(b"42", id="json-number"),
    pytest.param(b"null", id="json-null"),
    pytest.param(b"true", id="json-true"),
    pytest.param(b'\xef\xbb\xbf{"service": "CI-RENOV", "ticket": "C-001"}', id="utf8-bom"),
    pytest.param('{"service": "CI-RENOV", "ticket": "C-001"}'.encode("utf-16"), id="utf-16"),
    pytest.param(b'{"service": "\\ud800", "ticket": "\\ud800"}', id="lone-surrogate"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="nested-too-deep"),
    pytest.param(b'{"service":' * 3000 + b'"CI-RENOV"' + b"}" * 3000, id="objects-nested-too-deep"),
]


@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_issue_body_is_400_and_issues_nothing(client, kiosk, raw):
    before = await db_snapshot()
    response = await client.post(ISSUE, content=raw, headers={**kiosk, "Content-Type": "application/json"})
    assert_error(response, 400, "malformed_request")
    assert await db_snapshot() == before


@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_call_body_is_400(client, kiosk, op, raw):
    await issue(client, kiosk)
    await client.post(f"/api/offices/{OFFICE}/desks/3/open", headers=op)
    before = await db_snapshot()
    response = await client.post(f"/api/offices/{OFFICE}/desks/3/call", content=raw, headers=op)
    assert_error(response, 400, "malformed_request")
    assert await db_snapshot() == before


@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_transfer_body_is_400(client, kiosk, op, raw):
    ticket = await called_ticket(client, op, kiosk)
    before = await db_snapshot()
    response = await client.post(f"/api/tickets/{ticket['id']}/transfer", content=raw, headers=op)
    assert_error(response, 400, "malformed_request")
    assert await db_snapshot() == before


@pytest.mark.parametrize("raw", MALFORMED)
async def test_malformed_login_body_is_400(client, raw):
    response = await client.post("/api/auth/token", content=raw)
    assert_error(response, 400, "malformed_request")
    assert await ApiToken.all().count() == 0


async def test_malformed_message_is_spanish(client, kiosk):
    error = assert_error(await client.post(ISSUE, content=b"{", headers=kiosk), 400)
    assert "JSON" in error["message"] and "válido" in error["message"]
    error = assert_error(await client.post(ISSUE, content=b"[]", headers=kiosk), 400)
    assert "objeto" in error["message"]


# ---------------------------------------------------------------- wrong values (422)

BAD_ISSUE_BODIES = [
    pytest.param({"service": "CI-RENOV", "party_size": "3"}, "party_size", id="party_size-string"),
    pytest.param({"service": "CI-RENOV", "party_size": 2.5}, "party_size", id="party_size-float"),
    pytest.param({"service": "CI-RENOV", "party_size": 3.0}, "party_size", id="party_size-float-integral"),
    pytest.param({"service": "CI-RENOV", "party_size": True}, "party_size", id="party_size-bool"),
    pytest.param({"service": "CI-RENOV", "party_size": None}, "party_size", id="party_size-null"),
    pytest.param({"service": "CI-RENOV", "party_size": 10**12}, "party_size", id="party_size-huge"),
    pytest.param({"service": "CI-RENOV", "party_size": 10**100}, "party_size", id="party_size-enormous"),
    pytest.param({"service": "CI-RENOV", "party_size": -(10**100)}, "party_size", id="party_size-enormous-negative"),
    pytest.param({"service": "CI-RENOV", "party_size": 0}, "party_size", id="party_size-zero"),
    pytest.param({"service": "CI-RENOV", "priority": 5}, "priority", id="priority-number"),
    pytest.param({"service": "CI-RENOV", "priority": "vip"}, "priority", id="priority-unknown"),
    pytest.param({"service": "CI-RENOV", "priority": "SENIOR"}, "priority", id="priority-uppercase"),
    pytest.param({"service": "CI-RENOV", "priority": ""}, "priority", id="priority-empty"),
    pytest.param({"service": "CI-RENOV", "priority": None}, "priority", id="priority-null"),
    pytest.param({"service": "CI-RENOV", "priority": ["senior"]}, "priority", id="priority-list"),
    pytest.param({"service": None}, "service", id="service-null"),
    pytest.param({"service": ""}, "service", id="service-empty"),
    pytest.param({"service": "   "}, "service", id="service-blank"),
    pytest.param({"service": 7}, "service", id="service-number"),
    pytest.param({"service": ["CI-RENOV"]}, "service", id="service-list"),
    pytest.param({"service": {"code": "CI-RENOV"}}, "service", id="service-object"),
    pytest.param({"service": "X" * 10_000}, "service", id="service-10000-chars"),
    pytest.param({}, "service", id="service-missing"),
    pytest.param({"priority": "senior"}, "service", id="only-priority"),
    pytest.param({"service": "CI-RENOV", "phone": 71234567}, "phone", id="phone-number"),
    pytest.param({"service": "CI-RENOV", "phone": "7" * 5000}, "phone", id="phone-5000-chars"),
    pytest.param({"service": "CI-RENOV", "phone": "abc"}, "phone", id="phone-letters"),
    pytest.param({"service": "CI-RENOV", "phone": ["71234567"]}, "phone", id="phone-list"),
]


@pytest.mark.parametrize("body, field", BAD_ISSUE_BODIES)
async def test_wrong_values_on_issue_are_422_and_issue_nothing(client, kiosk, body, field):
    before = await db_snapshot()
    response = await client.post(ISSUE, json=body, headers=kiosk)
    error = assert_error(response, 422, "validation_error")
    assert field in error["message"]
    assert error["message"].startswith("Datos inválidos")
    assert await db_snapshot() == before


async def test_validation_message_is_short_even_for_huge_input(client, kiosk):
    response = await client.post(ISSUE, json={"service": "X" * 10_000, "phone": "9" * 19}, headers=kiosk)
    error = assert_error(response, 422)
    assert len(error["message"]) < 500 and "XXXXXXXXXX" not in error["message"]


async def test_unknown_fields_are_ignored(client, kiosk):
    ticket = await issue(client, kiosk, name="Juan Pérez", document="1234567")
    assert ticket["number"] == "C-001"


async def test_null_phone_means_no_phone(client, kiosk):
    ticket = await issue(client, kiosk, phone=None)
    assert (await Ticket.get(public_id=ticket["id"])).phone is None


@pytest.mark.parametrize(
    "body", [{"service": ""}, {"service": None}, {"service": 3}, {"service": "Y" * 10_000}, {}, {"servicio": "CERT"}]
)
async def test_wrong_values_on_transfer_are_422_and_change_nothing(client, kiosk, op, body):
    ticket = await called_ticket(client, op, kiosk)
    before = await db_snapshot()
    assert_error(await client.post(f"/api/tickets/{ticket['id']}/transfer", json=body, headers=op), 422, "validation_error")
    assert await db_snapshot() == before


@pytest.mark.parametrize("body", [{"ticket": ""}, {"ticket": None}, {"ticket": 1}, {"ticket": "Z" * 10_000}, {}])
async def test_wrong_values_on_call_are_422_and_change_nothing(client, kiosk, op, body):
    await issue(client, kiosk)
    await client.post(f"/api/offices/{OFFICE}/desks/3/open", headers=op)
    before = await db_snapshot()
    response = await client.post(f"/api/offices/{OFFICE}/desks/3/call", json=body, headers=op)
    assert_error(response, 422, "validation_error")
    assert await db_snapshot() == before


# ---------------------------------------------------------------- size (413)

BIG = 100 * 1024


@pytest.mark.parametrize(
    "path_template",
    [ISSUE, "/api/auth/token", f"/api/offices/{OFFICE}/desks/3/call", "/api/tickets/{ticket}/transfer"],
)
async def test_a_100_kb_body_is_413_and_changes_nothing(client, kiosk, op, path_template):
    ticket = await called_ticket(client, op, kiosk)
    before = await db_snapshot()
    body = json.dumps({"service": "CI-RENOV", "ticket": "C-001", "username": "admin", "password": "demo",
                       "padding": "x" * BIG}).encode()
    path = path_template.format(ticket=ticket["id"])
    response = await client.post(path, content=body, headers={**op, "Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")
    assert await db_snapshot() == before


async def test_a_body_just_under_the_limit_is_accepted(client, kiosk):
    body = json.dumps({"service": "CI-RENOV", "padding": "x" * (60 * 1024)}).encode()
    response = await client.post(ISSUE, content=body, headers=kiosk)
    assert response.status_code == 201


# ---------------------------------------------------------------- unknown things (404)

OFFICE_PATHS = [
    ("POST", "/api/offices/{office}/tickets", {"service": "CI-RENOV"}),
    ("GET", "/api/offices/{office}/desks", None),
    ("GET", "/api/offices/{office}/board", None),
    ("POST", "/api/offices/{office}/desks/1/open", None),
    ("POST", "/api/offices/{office}/desks/1/pause", None),
    ("POST", "/api/offices/{office}/desks/1/close", None),
    ("POST", "/api/offices/{office}/desks/1/call-next", None),
    ("POST", "/api/offices/{office}/desks/1/call", {"ticket": "C-001"}),
]


@pytest.mark.parametrize("method, template, body", OFFICE_PATHS)
@pytest.mark.parametrize("office", ["NOPE", "lpz-principal", "LPZ-PRINCIPAL-X", "A" * 300])
async def test_unknown_office_is_404(client, admin, method, template, body, office):
    before = await db_snapshot()
    response = await client.request(method, template.format(office=office), json=body, headers=admin)
    assert_error(response, 404, "office_not_found")
    assert await db_snapshot() == before


TICKET_PATHS = [
    ("GET", "/api/tickets/{ticket}", None),
    ("POST", "/api/tickets/{ticket}/recall", None),
    ("POST", "/api/tickets/{ticket}/start", None),
    ("POST", "/api/tickets/{ticket}/finish", None),
    ("POST", "/api/tickets/{ticket}/no-show", None),
    ("POST", "/api/tickets/{ticket}/transfer", {"service": "CERT"}),
]


@pytest.mark.parametrize("method, template, body", TICKET_PATHS)
@pytest.mark.parametrize("ticket", ["AAAAAAAAAAAAAAAA", "C-001", "1", "x" * 500])
async def test_unknown_ticket_is_404(client, kiosk, admin, method, template, body, ticket):
    await issue(client, kiosk)  # C-001 exists; its number is not its id
    before = await db_snapshot()
    response = await client.request(method, template.format(ticket=quote(ticket)), json=body, headers=admin)
    assert_error(response, 404, "ticket_not_found")
    assert await db_snapshot() == before


async def test_unknown_desk_is_404(client, admin):
    for action in ("open", "pause", "close", "call-next"):
        assert_error(await client.post(f"/api/offices/{OFFICE}/desks/0/{action}", headers=admin), 404, "desk_not_found")
    response = await client.post(f"/api/offices/{OFFICE}/desks/{'9' * 500}/call", json={"ticket": "C-001"}, headers=admin)
    assert_error(response, 404, "desk_not_found")


@pytest.mark.parametrize("service", ["S" * 33, "S" * 3000])
async def test_offices_filtered_by_an_impossible_service_code_is_404(client, service):
    response = await client.get("/api/offices", params={"service": service})
    assert_error(response, 404, "service_not_found")


@pytest.mark.parametrize("service", ["\u0000", "CI-RENOV\u0000"])
async def test_a_service_code_with_a_nul_is_422(client, service):
    response = await client.get("/api/offices", params={"service": service})
    assert_error(response, 422, "invalid_characters")


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/offices/LPZ-PRINCIPAL/nope", "/api/tickets", "/api/tickets/x/y/z", "/api/", "/api"]
)
async def test_unknown_api_path_is_404_in_the_error_shape(client, path):
    for method in ("GET", "POST"):
        assert_error(await client.request(method, path), 404, "not_found")


# ---------------------------------------------------------------- wrong method (405)

POST_ONLY = [
    ISSUE,
    "/api/auth/token",
    f"/api/offices/{OFFICE}/desks/3/open",
    f"/api/offices/{OFFICE}/desks/3/call-next",
    f"/api/offices/{OFFICE}/desks/3/call",
    "/api/tickets/abc/finish",
    "/api/tickets/abc/transfer",
]


@pytest.mark.parametrize("path", POST_ONLY)
async def test_get_on_a_post_only_path_is_405_in_the_error_shape(client, path):
    response = await client.get(path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_writing_to_a_read_only_path_is_405(client, method):
    for path in ("/api/services", f"/api/offices/{OFFICE}/board", f"/api/offices/{OFFICE}/desks", "/api/tickets/abc"):
        response = await client.request(method, path)
        assert_error(response, 405, "method_not_allowed")
        assert "GET" in response.headers["allow"]


# ---------------------------------------------------------------- content type


async def test_json_without_content_type_still_parses(client, kiosk):
    response = await client.post(ISSUE, content=b'{"service": "CERT", "priority": "senior"}', headers=kiosk)
    assert response.status_code == 201, response.text
    assert response.json()["number"] == "D-001" and response.json()["priority"] == "senior"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-8"])
async def test_json_with_another_content_type_still_parses(client, kiosk, content_type):
    response = await client.post(ISSUE, content=b'{"service": "CERT"}', headers={**kiosk, "Content-Type": content_type})
    assert response.status_code == 201, response.text


async def test_login_without_content_type_still_parses(client):
    response = await client.post("/api/auth/token", content=b'{"username": "admin", "password": "demo"}')
    assert response.status_code == 200 and response.json()["role"] == "admin"


async def test_empty_body_counts_as_an_empty_object(client, kiosk):
    error = assert_error(await client.post(ISSUE, content=b"", headers=kiosk), 422, "validation_error")
    assert "service" in error["message"]


async def test_unicode_is_handled(client, kiosk):
    response = await client.post(ISSUE, json={"service": "CÉDULA-ÑANDÚ"}, headers=kiosk)
    assert_error(response, 404, "service_not_found")
    assert "CÉDULA-ÑANDÚ" in response.json()["error"]["message"]


# ---------------------------------------------------------------- control characters


@pytest.mark.parametrize("value", ["CI-RENOV\u0000", "\u0000", "CI\u0000RENOV"])
async def test_nul_character_in_a_service_code_is_rejected(client, kiosk, value):
    before = await db_snapshot()
    response = await client.post(ISSUE, json={"service": value}, headers=kiosk)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert await db_snapshot() == before


async def test_nul_character_in_login_is_401_or_422(client):
    response = await client.post("/api/auth/token", json={"username": "admin\u0000", "password": "demo"})
    assert response.status_code in (401, 422)
    assert_error(response, response.status_code)


async def test_nul_character_in_a_ticket_reference_is_rejected(client, kiosk, op):
    await issue(client, kiosk)
    await client.post(f"/api/offices/{OFFICE}/desks/3/open", headers=op)
    before = await db_snapshot()
    response = await client.post(f"/api/offices/{OFFICE}/desks/3/call", json={"ticket": "C-001\u0000"}, headers=op)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert await db_snapshot() == before


@pytest.mark.parametrize(
    "path",
    ["/api/offices/%00/board", "/api/tickets/%00", "/api/offices/LPZ-PRINCIPAL/desks/%00/open",
     "/api/offices?service=%00", "/api/offices/%00/tickets"],
)
async def test_nul_character_in_the_url_is_a_4xx(client, admin, path):
    method = "POST" if path.endswith(("open", "tickets")) else "GET"
    response = await client.request(method, path, json={"service": "CI-RENOV"}, headers=admin)
    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code)


# ---------------------------------------------------------------- invariant: bad input changes nothing


async def test_a_run_of_rejected_requests_leaves_counters_and_tickets_as_they_were(client, kiosk, op):
    ticket = await called_ticket(client, op, kiosk)
    waiting = await issue(client, kiosk)
    before = await db_snapshot()
    rejected = [
        ("POST", ISSUE, {"service": "DESCARTE"}),
        ("POST", ISSUE, {"service": "LIC-NUEVA"}),
        ("POST", ISSUE, {"service": "NOPE"}),
        ("POST", ISSUE, {"service": "CI-RENOV", "party_size": 11}),
        ("POST", ISSUE, {"service": "CI-RENOV", "phone": "123"}),
        ("POST", f"/api/offices/{OFFICE}/desks/3/call-next", None),  # busy
        ("POST", f"/api/offices/{OFFICE}/desks/3/close", None),  # busy
        ("POST", f"/api/offices/{OFFICE}/desks/4/call-next", None),  # closed
        ("POST", f"/api/offices/{OFFICE}/desks/4/pause", None),  # closed
        ("POST", f"/api/offices/{OFFICE}/desks/4/call", {"ticket": waiting["number"]}),  # closed
        ("POST", f"/api/tickets/{waiting['id']}/start", None),
        ("POST", f"/api/tickets/{waiting['id']}/finish", None),
        ("POST", f"/api/tickets/{waiting['id']}/no-show", None),
        ("POST", f"/api/tickets/{waiting['id']}/transfer", {"service": "CERT"}),
        ("POST", f"/api/tickets/{ticket['id']}/transfer", {"service": "CI-RENOV"}),
        ("POST", f"/api/tickets/{ticket['id']}/transfer", {"service": "PASAPORTE"}),
        ("POST", f"/api/tickets/{ticket['id']}/transfer", {"service": "NOPE"}),
    ]
    for method, path, body in rejected:
        response = await client.request(method, path, json=body, headers=op)
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert_error(response, response.status_code)
        assert await db_snapshot() == before, (path, body)


# ---------------------------------------------------------------- never a 500

GARBAGE_BODIES = [
    b"", b"{", b"[]", b'"x"', b"null", b"NaN", b'{"a": NaN}', b"\xef\xbb\xbf{}", b"\xff\xfe", b"{}" * 1000,
    b'{"service": "\\ud800"}', b'{"service": "\\u0000", "ticket": "\\u0000", "username": "\\u0000", "password": "x"}',
    b'{"service": 1e400, "party_size": 1e400, "ticket": -1e400}',
    b'{"party_size": 99999999999999999999999999999999999999, "service": "CI-RENOV"}',
    b'{"service": "CI-RENOV", "service": "CERT"}',
    json.dumps({"service": "CI-RENOV", "priority": "senior", "party_size": 10, "phone": "71234567"}).encode(),
    json.dumps({"service": "CERT", "ticket": "C-001"}).encode(),
    json.dumps({"service": ["x"] * 1000, "ticket": {"a": [1, 2, {"b": None}]}, "username": 1, "password": {}}).encode(),
    json.dumps({"ticket": "' OR 1=1 --", "service": "'; DROP TABLE ticket; --"}).encode(),
    json.dumps({"username": "admin", "password": "demo"}).encode(),
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"x" * (70 * 1024),
]
GARBAGE_SEGMENTS = ["NOPE", "%00", "%20", "%E2%80%AE", "%ED%A0%80", "%25", "..", "'%20OR%201=1", "A" * 2000, "-1", "99999999999999999999"]


def _api_endpoints() -> list:
    endpoints = []
    for route in api_routes():
        for method in sorted(route.methods - {"HEAD"}):
            endpoints.append(pytest.param(method, route.path, id=f"{method} {route.path}"))
    return endpoints


def _fill(path: str, values: dict[str, str]) -> str:
    # Parameters with no real value here (a room, a session…) get a plausible unknown one.
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), path)


@pytest.mark.parametrize("method, path", _api_endpoints())
async def test_garbage_at_every_api_route_is_never_a_500(client, kiosk, op, admin, method, path):
    ticket = await called_ticket(client, op, kiosk)
    real = {"office": OFFICE, "desk": "3", "ticket": ticket["id"], "service": "CI-RENOV", "username": "operador1"}
    names = re.findall(r"\{(\w+)", path)
    urls = [_fill(path, real)]
    for segment in GARBAGE_SEGMENTS:
        urls.append(_fill(path, {name: segment for name in names}))
        urls.append(_fill(path, {**real, "office": segment}) if "{office}" in path else None)
    urls = [u for u in dict.fromkeys(urls) if u]
    urls += [urls[0] + "?service=%00&from=x&days=-1", urls[0] + "?service=" + "S" * 3000]
    # Bodies matter only where a route reads one; without a valid token the request
    # stops at authentication, so a few URLs and bodies cover that path.
    bodies = GARBAGE_BODIES if method in {"POST", "PUT", "PATCH"} else GARBAGE_BODIES[:2]
    attempts = [(headers, urls, bodies) for headers in (admin, op)] + [
        (headers, urls[:2], bodies[:3]) for headers in ({}, {"Authorization": "Bearer " + "x" * 5000})
    ]
    for headers, some_urls, some_bodies in attempts:
        for url in some_urls:
            for body in some_bodies:
                response = await client.request(method, url, content=body, headers=headers)
                assert response.status_code < 500, (method, url, body[:80], response.text[:300])
                if response.status_code >= 400:
                    assert_error(response, response.status_code)
