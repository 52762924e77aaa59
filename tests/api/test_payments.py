"""Payments at descarte (issue 20): the desk records the bank slip's or UNIMOVIL
transaction's reference of the ticket it has called; one reference pays for one trámite,
also when two desks try it at once; bad references and tickets not at a desk change
nothing; the audit event is written with the record."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import assert_error, login
from tests.api.test_api_tickets import called_at_desk, issue
from turnero.queue.models import PaymentRecord, TicketEvent
from turnero.queue.payments import normalised_reference


@pytest.fixture
async def op(client) -> dict:
    return await login(client, "operador1")


def test_a_reference_is_letters_and_digits_as_people_copy_them():
    assert normalised_reference("0012-3456 78") == "0012345678"
    assert normalised_reference("um.123456.ab") == "UM123456AB"
    for bad in ("", "12345", "ABCDEFGH12", "1234567890123456789012345", "12345678;DROP", "１２３４５６"):
        assert normalised_reference(bad) is None, bad


async def test_the_desk_records_a_payment_once_and_it_is_audited(client, kiosk, op):
    ticket = await called_at_desk(client, kiosk, op)
    response = await client.post(f"/api/tickets/{ticket['id']}/payment",
                                 json={"reference": "0012-3456 78", "channel": "unimovil"}, headers=op)
    assert response.status_code == 201, response.text
    assert response.json()["reference"] == "0012345678" and response.json()["channel"] == "unimovil"
    event = await TicketEvent.get(kind="payment_recorded")
    assert event.data == {"reference": "0012345678", "channel": "unimovil"}
    # The same slip for another trámite: refused, nothing written.
    other = await called_at_desk(client, kiosk, await login(client, "operador2"), desk="11")
    again = await client.post(f"/api/tickets/{other['id']}/payment", json={"reference": "00123456-78"}, headers=op)
    assert_error(again, 409, "payment_reference_used")
    assert await PaymentRecord.all().count() == 1 and await TicketEvent.filter(kind="payment_recorded").count() == 1


async def test_two_desks_with_one_slip_at_once_record_it_once(client, kiosk, op):
    tickets = [await called_at_desk(client, kiosk, await login(client, f"operador{n}"), desk=desk)
               for n, desk in enumerate(("5", "11", "12", "13"), start=1)]
    answers = await asyncio.gather(*(
        client.post(f"/api/tickets/{t['id']}/payment", json={"reference": "BU778899001"}, headers=op)
        for t in tickets))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert await PaymentRecord.filter(reference="BU778899001").count() == 1
    assert await TicketEvent.filter(kind="payment_recorded").count() == 1


async def test_bad_references_and_tickets_not_at_a_desk_change_nothing(client, kiosk, op):
    ticket = await called_at_desk(client, kiosk, op, desk="11")
    waiting = await issue(client, kiosk)
    assert_error(await client.post(f"/api/tickets/{waiting['id']}/payment", json={"reference": "778899001"},
                                   headers=op), 409, "ticket_not_at_desk")
    for body, code in [({"reference": "12345"}, "invalid_payment_reference"),
                       ({"reference": "778899001", "channel": "cash"}, "validation_error"),
                       ({}, "validation_error"), ({"reference": 778899001}, "validation_error")]:
        assert_error(await client.post(f"/api/tickets/{ticket['id']}/payment", json=body, headers=op), 422, code)
    assert_error(await client.post(f"/api/tickets/{ticket['id']}/payment", json={"reference": "778899001"}),
                 401)
    assert await PaymentRecord.all().count() == 0
