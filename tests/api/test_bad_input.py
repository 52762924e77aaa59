"""Issue 17: bad input is refused at the edge with the error shape, never a 500.

NUL and other control characters in path, query and body text (PostgreSQL refuses NUL;
SQLite stored it silently), `null` where a value is required, and an oversized request
head against a real server process."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import assert_error, login


async def _auth(client, username="admin") -> dict:
    return await login(client, username)


# ---------------------------------------------------------------- control characters


async def test_public_ranking_with_nul_in_the_city_is_422(client):
    response = await client.get("/api/services/CI-RENOV/ranking", params={"city": "La\x00Paz"})
    error = assert_error(response, 422, "invalid_characters")
    assert "city" in error["message"] and "NUL" in error["message"]
    # The clean query still answers.
    assert (await client.get("/api/services/CI-RENOV/ranking", params={"city": "La Paz"})).status_code == 200


@pytest.mark.parametrize("path", [
    "/api/services/CI%00RENOV/ranking",
    "/api/offices/LPZ%00/board",
    "/api/tickets/abc%00def",
    "/api/offices?service=CI%00RENOV",
    "/api/offices?service=CI%1bRENOV",
    "/api/offices?service=CI%0ARENOV",  # a line feed is no part of a code
])
async def test_control_characters_in_path_or_query_are_422(client, path):
    assert_error(await client.get(path), 422, "invalid_characters")


@pytest.mark.parametrize("value", ["Nueva\x00", "a\x07b", "x\x1by", "del\x7f", "c1\x85"])
async def test_admin_text_fields_refuse_control_characters(client, value):
    headers = await _auth(client)
    for method, path, body in [
        ("PATCH", "/api/admin/services/CI-RENOV", {"name": value}),
        ("PATCH", "/api/admin/offices/LPZ-PRINCIPAL", {"address": value}),
        ("POST", "/api/admin/offices", {"code": "LPZ-X", "name": value, "department": "La Paz", "city": "La Paz"}),
        ("POST", "/api/admin/users", {"username": "nuevo", "password": "12345678x", "role": "admin",
                                      "full_name": value}),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert_error(response, 422, "invalid_characters")
    # Nothing was stored.
    services = (await client.get("/api/admin/services", headers=headers)).json()
    assert not any("\x00" in s["name"] or "\x07" in s["name"] for s in services)


async def test_nul_in_a_json_key_or_nested_value_is_422(client):
    headers = await _auth(client)
    response = await client.patch("/api/admin/offices/LPZ-PRINCIPAL",
                                  json={"opening_hours": {"mon\x00": [["08:00", "16:00"]]}}, headers=headers)
    assert "mon" in assert_error(response, 422)["message"]  # no such day: the schema's own refusal
    response = await client.post("/api/appointments", json={
        "office": "LPZ-PRINCIPAL", "service": "CI-RENOV", "start": "2030-01-07T08:00:00-04:00",
        "document": {"number": "1234567"}, "name": "Ana\x00"})
    assert "name" in assert_error(response, 422)["message"]  # the name's own rule refuses it first
    response = await client.post("/api/offices/LPZ-PRINCIPAL/checkins", json={"code": "AB\x00CD"},
                                 headers=await _auth(client, "kiosko"))
    assert "code" in assert_error(response, 422, "invalid_characters")["message"]


async def test_tab_and_newline_are_allowed_in_body_text(client):
    headers = await _auth(client)
    response = await client.patch("/api/admin/offices/LPZ-PRINCIPAL",
                                  json={"address": "Calle 1\nPiso 2\tOficina 3"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["address"] == "Calle 1\nPiso 2\tOficina 3"


async def test_lone_surrogate_is_refused(client):
    headers = await _auth(client)
    body = b'{"name": "x\\ud800y"}'
    response = await client.patch("/api/admin/services/CI-RENOV", content=body,
                                  headers={**headers, "content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert_error(response, response.status_code)


async def test_login_with_nul_is_422_not_500(client):
    response = await client.post("/api/auth/token", json={"username": "ad\x00min", "password": "demo"})
    assert_error(response, 422, "invalid_characters")


# ---------------------------------------------------------------- null where a value is required


@pytest.mark.parametrize("field", ["active", "name", "walk_in", "kind", "requirements",
                                   "expected_service_minutes", "prefix"])
async def test_service_update_refuses_null(client, field):
    headers = await _auth(client)
    response = await client.patch("/api/admin/services/CI-RENOV", json={field: None}, headers=headers)
    error = assert_error(response, 422)
    assert field in error["message"]


@pytest.mark.parametrize("field", ["institution", "name", "city", "department", "address",
                                   "timezone", "opening_hours", "services", "active"])
async def test_office_update_refuses_null(client, field):
    headers = await _auth(client)
    response = await client.patch("/api/admin/offices/LPZ-PRINCIPAL", json={field: None}, headers=headers)
    assert_error(response, 422)


async def test_desk_and_user_updates_refuse_null_but_a_user_office_may_be_cleared(client):
    headers = await _auth(client)
    desks = (await client.get("/api/admin/offices/LPZ-PRINCIPAL/desks", headers=headers)).json()
    desk = desks[0]["name"]
    for body in ({"name": None}, {"services": None}):
        response = await client.patch(f"/api/admin/offices/LPZ-PRINCIPAL/desks/{desk}", json=body, headers=headers)
        assert_error(response, 422)
    for body in ({"role": None}, {"active": None}, {"password": None}, {"full_name": None}):
        response = await client.patch("/api/admin/users/operador1", json=body, headers=headers)
        assert_error(response, 422)
    # Omitted fields stay as they were.
    response = await client.patch("/api/admin/services/CI-RENOV", json={}, headers=headers)
    assert response.status_code == 200 and response.json()["active"] is True


# ---------------------------------------------------------------- request head size


def _raw_request(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before everything was sent
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


def test_a_100_kb_header_is_refused_by_the_real_server(live_server):
    port = live_server.port
    big = b"GET /api/services HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    answer = _raw_request(port, big)
    status = answer.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 431") or status.startswith(b"HTTP/1.1 400"), answer[:200]
    # Many medium headers adding up to more than the limit, too.
    many = b"GET /api/services HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(40)) + b"\r\n"
    assert _raw_request(port, many).split(b"\r\n", 1)[0][9:12] in (b"431", b"400")
    # An ordinary request with a few KB of headers (cookies, a token) still works.
    response = httpx.get(live_server.url + "/api/services", headers={"Cookie": "c=" + "x" * 6000})
    assert response.status_code == 200
    # And a body larger than the head limit is no head: a 40 KB JSON body is parsed.
    response = httpx.post(live_server.url + "/api/auth/token",
                          json={"username": "nadie", "password": "p" * 40_000})
    assert response.status_code in (401, 422), response.text
