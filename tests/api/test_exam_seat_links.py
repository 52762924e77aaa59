"""Exam seat links are bound to one candidate's assignment: the board hands out the
link made at check-in; the seat's idle link, a swapped-away link, a released check-in's
link and an old candidate's link read and answer nothing of anyone's exam."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import assert_error
from tests.api.test_exam_api import (  # noqa: F401  (fixtures)
    NOON,
    _fixed_config_and_clock,
    answer,
    board,
    booked,
    check_in,
    document_of,
    new_session,
    proctor,
    seat_token,
    seated,
    settings,
    start,
    to_checkin_window,
    to_start,
)
from turnero.exam.models import ExamAttempt, Seat
from turnero.exam.seat_links import RESULT_SHOWN_FOR


async def test_the_idle_seat_link_reaches_no_exam_and_the_board_hands_out_a_new_one(client, proctor):
    session = await new_session(client, proctor)
    idle = await seat_token(client, proctor, session, 1)
    code = (await booked(client, session, 1))["code"]
    to_checkin_window(session)
    attempt = (await check_in(client, proctor, session, booking=code, presented_document=document_of(1))).json()
    link = await seat_token(client, proctor, session, 1)
    assert link != idle
    assert (await client.get(f"/api/exam/seats/{idle}")).json()["attempt"] is None
    assert (await client.get(f"/api/exam/seats/{link}")).json()["attempt"]["id"] == attempt["id"]
    to_start(session)
    assert_error(await client.post(f"/api/exam/seats/{idle}/start", json={"attempt": attempt["id"]}), 403)
    questions = (await start(client, link, attempt["id"]))["attempt"]["questions"]
    assert_error(await answer(client, idle, attempt["id"], questions[0]["id"], 0), 403, "forbidden")
    assert (await answer(client, link, attempt["id"], questions[0]["id"], 0)).status_code == 200
    page = await client.get(f"/exam/seat/{idle}")
    assert page.status_code == 200 and attempt["id"] not in page.text


async def test_an_old_candidates_link_reads_and_answers_nothing_of_the_next_one(client, proctor):
    first_session = await new_session(client, proctor)
    second_session = await new_session(client, proctor, NOON + timedelta(hours=1))  # same computers
    one = (await booked(client, first_session, 1))["code"]
    two = (await booked(client, second_session, 2))["code"]
    to_checkin_window(first_session)
    first = (await check_in(client, proctor, first_session, booking=one, presented_document=document_of(1))).json()
    first_link = await seat_token(client, proctor, first_session, first["seat"])
    to_start(first_session)
    await start(client, first_link, first["id"])
    done = await client.post(f"/api/exam/seats/{first_link}/submit", json={"attempt": first["id"]})
    assert done.status_code == 200 and done.json()["attempt"]["status"] == "finished"
    assert (await client.get(f"/api/exam/seats/{first_link}")).json()["attempt"]["id"] == first["id"]
    # The next sitting, the same computer, another candidate.
    to_checkin_window(second_session)
    second = (await check_in(client, proctor, second_session, booking=two, presented_document=document_of(2))).json()
    second_link = await seat_token(client, proctor, second_session, second["seat"])
    assert second["seat"] == first["seat"] and second_link != first_link
    assert_error(await client.get(f"/api/exam/seats/{first_link}"), 404, "seat_link_expired")
    to_start(second_session)
    assert_error(await client.post(f"/api/exam/seats/{first_link}/start", json={"attempt": second["id"]}), 404)
    questions = (await start(client, second_link, second["id"]))["attempt"]["questions"]
    assert_error(await answer(client, first_link, second["id"], questions[0]["id"], 0), 404)
    assert (await answer(client, second_link, second["id"], questions[0]["id"], 0)).status_code == 200
    page = await client.get(f"/exam/seat/{first_link}")
    assert page.status_code == 404 and second["name"] not in page.text


async def test_the_result_is_shown_for_a_while_then_the_link_is_dead(client, proctor):
    from turnero.core import clock

    session, attempt, link = await seated(client, proctor)
    to_start(session)
    await start(client, link, attempt["id"])
    await client.post(f"/api/exam/seats/{link}/submit", json={"attempt": attempt["id"]})
    assert (await client.get(f"/api/exam/seats/{link}")).json()["attempt"]["status"] == "finished"
    clock.advance(RESULT_SHOWN_FOR + timedelta(seconds=1))
    assert_error(await client.get(f"/api/exam/seats/{link}"), 404, "seat_link_expired")
    page = await client.get(f"/exam/seat/{link}")
    assert page.status_code == 404 and attempt["name"] not in page.text


async def test_a_released_check_in_kills_its_link(client, proctor):
    session, attempt, link = await seated(client, proctor)
    cancelled = await client.post(f"/api/exam/attempts/{attempt['id']}/cancel", json={}, headers=proctor)
    assert cancelled.status_code == 200
    assert_error(await client.get(f"/api/exam/seats/{link}"), 404)
    assert (await ExamAttempt.get(public_id=attempt["id"])).seat_token is None
    # The board shows the seat's idle link again.
    idle = (await Seat.filter(number=1).first()).token
    assert (await seat_token(client, proctor, session, 1)) in {idle} | {
        s.token for s in await Seat.filter(number=1)}


async def test_a_swap_makes_a_new_link_and_kills_the_old(client, proctor):
    session, attempt, old = await seated(client, proctor)
    moved = await client.post(f"/api/exam/attempts/{attempt['id']}/swap", json={"reason": "teclado"}, headers=proctor)
    assert moved.status_code == 200
    new = await seat_token(client, proctor, session, moved.json()["seat"])
    assert new != old
    assert_error(await client.get(f"/api/exam/seats/{old}"), 404)
    assert (await client.get(f"/api/exam/seats/{new}")).json()["attempt"]["id"] == attempt["id"]
    view = await board(client, proctor, session)
    assert all(s["token"] != old for s in view["seats"])
