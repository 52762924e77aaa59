"""A desk belongs to the login that opened it until it is closed: another operator
opening it gets 409 `desk_in_use`; a supervisor or admin may take it over explicitly
(`{"take_over": true}`, audited as a `taken_over` desk event); an operator holds one
desk at a time (409 `already_at_desk`, naming it)."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import assert_error, login
from tests.api.test_pages import browser  # noqa: F401  (fixture)
from turnero.core.models import Office
from turnero.queue.models import Desk, DeskEvent, DeskStatus

OFFICE = "LPZ-PRINCIPAL"


async def bearer(client, username: str) -> dict:
    return await login(client, username)


def url(desk: str, action: str = "open") -> str:
    return f"/api/offices/{OFFICE}/desks/{desk}/{action}"


async def test_a_desk_held_by_another_operator_is_409_desk_in_use(client):
    one, two = await bearer(client, "operador1"), await bearer(client, "operador2")
    assert (await client.post(url("1"), headers=one)).status_code == 200
    body = assert_error(await client.post(url("1"), headers=two), 409, "desk_in_use")
    assert "1" in body["message"]
    # A paused desk is still held.
    assert (await client.post(url("1", "pause"), headers=one)).status_code == 200
    assert_error(await client.post(url("1"), headers=two), 409, "desk_in_use")
    # take_over is for supervisors and admins only.
    assert_error(await client.post(url("1"), headers=two, json={"take_over": True}), 409, "desk_in_use")
    # The holder may open it again (resume); once closed anyone may open it.
    assert (await client.post(url("1"), headers=one)).status_code == 200
    assert (await client.post(url("1", "close"), headers=one)).status_code == 200
    opened = await client.post(url("1"), headers=two)
    assert opened.status_code == 200 and opened.json()["operator"] == "operador2"


async def test_a_supervisor_takes_a_desk_over_explicitly_and_it_is_audited(client):
    one, boss = await bearer(client, "operador1"), await bearer(client, "supervisor")
    assert (await client.post(url("2"), headers=one)).status_code == 200
    assert_error(await client.post(url("2"), headers=boss), 409, "desk_in_use")
    taken = await client.post(url("2"), headers=boss, json={"take_over": True})
    assert taken.status_code == 200 and taken.json()["operator"] == "supervisor"
    office = await Office.get(code=OFFICE)
    desk = await Desk.get(office=office, name="2")
    kinds = await DeskEvent.filter(desk=desk).order_by("id").values_list("kind", "user__username")
    assert kinds[-2:] == [("taken_over", "supervisor"), ("open", "supervisor")]
    # The operator who held it is now free to open another desk.
    assert (await client.post(url("3"), headers=one)).status_code == 200
    assert_error(await client.post(url("3"), headers=await bearer(client, "admin")), 409, "desk_in_use")
    admin_take = await client.post(url("3"), headers=await bearer(client, "admin"), json={"take_over": True})
    assert admin_take.status_code == 200


async def test_one_operator_holds_one_desk(client):
    one = await bearer(client, "operador1")
    assert (await client.post(url("1"), headers=one)).status_code == 200
    body = assert_error(await client.post(url("2"), headers=one), 409, "already_at_desk")
    assert "1" in body["message"]
    assert (await client.post(url("1", "close"), headers=one)).status_code == 200
    assert (await client.post(url("2"), headers=one)).status_code == 200
    assert_error(await client.post(url("4"), headers=one, json={"take_over": "yes"}), 422)


async def test_two_operators_opening_one_desk_at_once_one_wins(client):
    heads = [await bearer(client, f"operador{n}") for n in range(1, 7)]
    responses = await asyncio.gather(*(client.post(url("5"), headers=h) for h in heads))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 5, statuses
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "desk_in_use")
    desk = await Desk.get(office=await Office.get(code=OFFICE), name="5")
    assert desk.status == DeskStatus.OPEN and desk.operator_id is not None


async def test_one_operator_opening_two_desks_at_once_gets_one(client):
    one = await bearer(client, "operador1")
    responses = await asyncio.gather(*(client.post(url(d), headers=one) for d in ("1", "2", "3", "4")))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409], [r.text for r in responses]
    office = await Office.get(code=OFFICE)
    assert await Desk.filter(office=office, status=DeskStatus.OPEN).count() == 1


# ---------------------------------------------------------------- the desk console


@pytest.mark.browser
def test_the_console_shows_desk_in_use_and_lets_a_supervisor_take_over(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from tests.api.test_pages import _api, _new_page, _sign_in, _token

    holder = _token(live_server, "operador7")
    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/7/open", holder)
    _api(live_server, "POST", f"/api/offices/{OFFICE}/desks/7/pause", holder)

    page = _new_page(browser)
    page.goto(f"{live_server.url}/desk/{OFFICE}/7")
    _sign_in(page, "operador8")
    page.get_by_role("button", name="Reanudar").click()
    expect(page.locator("#message")).to_contain_text("en uso por operador7")
    expect(page.locator("#desk-status")).to_have_text("En pausa")

    boss = _new_page(browser)
    boss.on("dialog", lambda dialog: dialog.accept())
    boss.goto(f"{live_server.url}/desk/{OFFICE}/7")
    _sign_in(boss, "supervisor")
    boss.get_by_role("button", name="Reanudar").click()
    expect(boss.locator("#message")).to_have_text("Ventanilla tomada.")
    expect(boss.locator("#desk-status")).to_have_text("Abierta")
    assert not page.errors and not boss.errors
