"""The outbox on a real database: rows commit with the caller's transaction, one event
gives one row, due rows are sent by the dispatcher (console gateway here), late ones
are not sent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.models import Office
from turnero.notifications import outbox
from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import ConsoleGateway, build_gateway, TwilioGateway
from turnero.notifications.models import Channel, MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig, parse_channel_rules
from turnero.settings import Settings

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
PHONE = "+59171234567"
CONFIG = NotificationConfig(backoff_base=timedelta(seconds=10), max_attempts=3)


@pytest.fixture(autouse=True)
def _config():
    clock.freeze(NOW)


async def _enqueue(conn=None, key="k1", config=CONFIG, **kw):
    values = dict(to=PHONE, template="turno_llamado", dedupe_key=key,
                  context={"institucion": "SEGIP", "numero": "C-001", "ventanilla": "3"})
    values.update(kw)
    async with in_transaction() as tx:
        return await outbox.enqueue(conn or tx, config, **values)


async def test_enqueue_writes_a_pending_row_with_the_rendered_body(db):
    office = await Office.get(code="LPZ-ZONA-SUR")
    row_id = await _enqueue(office=office, service_code="CI-RENOV", ticket_id=None)
    message = await OutboundMessage.get(id=row_id)
    assert message.status == MessageStatus.PENDING
    assert message.channel == Channel.SMS and message.to == PHONE
    assert message.body == "SEGIP: es su turno C-001. Pase a la ventanilla 3."
    assert message.send_at == message.next_attempt_at == NOW
    assert message.office_id == office.id and message.attempts == 0


async def test_one_event_gives_one_row(db):
    first = await _enqueue(key="cita:1:confirmada")
    second = await _enqueue(key="cita:1:confirmada", context={"institucion": "X", "numero": "C-9", "ventanilla": "9"})
    assert first is not None and second is None
    assert await OutboundMessage.filter(dedupe_key="cita:1:confirmada").count() == 1


async def test_a_rolled_back_state_change_leaves_no_message(db):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with in_transaction() as conn:
            await outbox.enqueue(conn, CONFIG, to=PHONE, template="sin_cita", context={}, dedupe_key="k-rollback")
            raise Boom
    assert not await OutboundMessage.exists(dedupe_key="k-rollback")


async def test_channel_comes_from_the_office_and_service_rules(db):
    rules = NotificationConfig(channel_rules=parse_channel_rules("LPZ-PRINCIPAL=whatsapp,*/CERT=sms"))
    principal = await Office.get(code="LPZ-PRINCIPAL")
    whatsapp = await OutboundMessage.get(id=await _enqueue(key="a", config=rules, office=principal, service_code="CI-RENOV",
                                                           template="sin_cita", context={}))
    sms = await OutboundMessage.get(id=await _enqueue(key="b", config=rules, office=principal, service_code="CERT",
                                                      template="sin_cita", context={}))
    assert whatsapp.channel == Channel.WHATSAPP and "número" in whatsapp.body  # accents kept
    assert sms.channel == Channel.SMS and "numero" in sms.body  # GSM-7


async def test_cancel_pending_touches_only_that_citas_pending_rows(db):
    ids = {
        "reminder": await _enqueue(key="r", appointment_id=7, template="sin_cita", context={}),
        "other_template": await _enqueue(key="c", appointment_id=7, template="sin_cita", context={},
                                         send_at=NOW + timedelta(hours=1)),
        "other_cita": await _enqueue(key="o", appointment_id=8, template="sin_cita", context={}),
    }
    await OutboundMessage.filter(id=ids["other_template"]).update(template="cita_confirmada")
    async with in_transaction() as conn:
        assert await outbox.cancel_pending(conn, appointment_id=7, templates=("sin_cita",)) == 1
    statuses = {name: (await OutboundMessage.get(id=i)).status for name, i in ids.items()}
    assert statuses == {"reminder": MessageStatus.CANCELLED, "other_template": MessageStatus.PENDING,
                        "other_cita": MessageStatus.PENDING}
    async with in_transaction() as conn:
        assert await outbox.cancel_pending(conn, appointment_id=7) == 1
    with pytest.raises(ValueError):
        await outbox.cancel_pending(None)


async def test_void_cancels_a_pending_message_and_blocks_a_later_one(db):
    pending = await _enqueue(key="ticket:5:cerca", template="sin_cita", context={})
    async with in_transaction() as conn:
        await outbox.void(conn, "ticket:5:cerca", template="turno_cerca", to=PHONE, reason="llamado")
        await outbox.void(conn, "ticket:6:cerca", template="turno_cerca", to=PHONE, reason="llamado")
    assert (await OutboundMessage.get(id=pending)).status == MessageStatus.CANCELLED
    assert await _enqueue(key="ticket:6:cerca", template="sin_cita", context={}) is None
    report = await dispatch_due(ConsoleGateway(), CONFIG)
    assert report.claimed == 0


async def test_dispatcher_sends_due_rows_only_and_once(db, caplog):
    now_id = await _enqueue(key="now")
    later_id = await _enqueue(key="later", send_at=NOW + timedelta(hours=2))
    caplog.set_level("INFO", logger="turnero.notifications")
    report = await dispatch_due(ConsoleGateway(), CONFIG)
    assert (report.claimed, report.sent) == (1, 1)
    sent = await OutboundMessage.get(id=now_id)
    assert sent.status == MessageStatus.SENT and sent.provider_sid == f"console-{now_id}" and sent.sent_at == NOW
    assert sent.attempts == 1 and sent.claimed_by is None
    assert f"[SMS a {PHONE}] SEGIP: es su turno C-001" in caplog.text
    assert (await dispatch_due(ConsoleGateway(), CONFIG)).claimed == 0  # never twice
    clock.advance(timedelta(hours=2))
    assert (await dispatch_due(ConsoleGateway(), CONFIG)).sent == 1
    assert (await OutboundMessage.get(id=later_id)).status == MessageStatus.SENT


async def test_a_message_past_its_use_is_cancelled_not_sent(db):
    row = await _enqueue(key="late", expires_at=NOW + timedelta(minutes=30))
    clock.advance(timedelta(minutes=31))
    report = await dispatch_due(ConsoleGateway(), CONFIG)
    assert (report.expired, report.sent) == (1, 0)
    message = await OutboundMessage.get(id=row)
    assert message.status == MessageStatus.CANCELLED and message.last_error == "vencido"


async def test_a_dead_dispatchers_claim_is_taken_again_after_its_lease(db):
    row = await _enqueue(key="stuck")
    # A dispatcher claimed it, then its process died before writing any result.
    await OutboundMessage.filter(id=row).update(
        status=MessageStatus.SENDING, claimed_by="dead:1", claimed_until=NOW + CONFIG.lease, attempts=1
    )
    assert (await dispatch_due(ConsoleGateway(), CONFIG)).claimed == 0  # lease still held
    clock.advance(CONFIG.lease + timedelta(seconds=1))
    assert (await dispatch_due(ConsoleGateway(), CONFIG)).sent == 1
    message = await OutboundMessage.get(id=row)
    assert message.status == MessageStatus.SENT and message.attempts == 2


def test_gateway_choice_from_settings():
    assert isinstance(build_gateway(Settings()), ConsoleGateway)
    twilio = build_gateway(Settings(twilio_account_sid="AC1", twilio_auth_token="t", twilio_from="+15005550006",
                                    public_url="https://turnero.bo"))
    assert isinstance(twilio, TwilioGateway) and twilio.public_url == "https://turnero.bo"
    assert isinstance(build_gateway(Settings(notify_gateway="console", twilio_account_sid="AC1",
                                             twilio_auth_token="t")), ConsoleGateway)
    with pytest.raises(ValueError):
        build_gateway(Settings(notify_gateway="twilio"))  # no credentials
    with pytest.raises(ValueError):
        build_gateway(Settings(notify_gateway="carrier-pigeon"))


async def test_a_stale_claim_records_nothing_over_a_newer_one(db):
    from turnero.notifications.dispatcher import _claim, _finish

    row = await _enqueue(key="fenced")
    (first,) = await _claim("old-claim", NOW, CONFIG, 10)
    assert first["recheck_from"] is None  # a first attempt: nothing to ask the provider
    clock.advance(CONFIG.lease + timedelta(seconds=1))  # its dispatcher froze past the lease
    (second,) = await _claim("new-claim", clock.now(), CONFIG, 10)
    assert second["recheck_from"] is not None  # the earlier attempt's outcome is unknown
    assert not await _finish(row, "old-claim", {"status": "sent", "provider_sid": "SM-stale"})
    assert await _finish(row, "new-claim", {"status": "sent", "provider_sid": "SM-new", "unsure_since": None})
    message = await OutboundMessage.get(id=row)
    assert (message.provider_sid, message.attempts, message.unsure_since) == ("SM-new", 2, None)
