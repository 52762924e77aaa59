"""The dispatcher with the real `twilio` client (async) against a loopback fake of
Twilio's Messages API: what is sent, retries with backoff, refusals, outages, and
several dispatchers at once sending each message exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from tortoise.transactions import in_transaction

from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from turnero.core import clock
from turnero.core.models import Office
from turnero.notifications import outbox
from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import TwilioGateway
from turnero.notifications.models import Channel, MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig, backoff
from turnero.queue import calls, desks, issuing
from turnero.queue.config import QueueConfig
from turnero.queue.models import DeskStatus
from tests.conftest import free_port

# The library itself still passes aiohttp a BasicAuth (deprecated in aiohttp 3.12).
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:twilio.*")

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)
PUBLIC = "https://turnero.example.bo"
CONFIG = NotificationConfig(backoff_base=timedelta(seconds=20), backoff_cap=timedelta(minutes=10), max_attempts=5)


@pytest.fixture(scope="module")
def fake():
    server = TwilioFake().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _setup(fake):
    fake.reset()
    clock.freeze(NOW)


def gateway_for(fake: TwilioFake, **kw) -> TwilioGateway:
    options = dict(sms_from="+15005550006", whatsapp_from="+14155238886", public_url=PUBLIC, api_base_url=fake.url)
    options.update(kw)
    return TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, **options)


@pytest.fixture
async def gateway(fake):
    gw = gateway_for(fake)
    yield gw
    await gw.aclose()


async def enqueue(key: str, to: str = "+59171234567", channel: Channel | None = None, **context) -> int:
    async with in_transaction() as conn:
        return await outbox.enqueue(
            conn, CONFIG, to=to, template="turno_llamado", dedupe_key=key, channel=channel,
            context={"institucion": "SEGIP", "numero": "C-001", "ventanilla": "3", **context},
        )


async def test_a_message_goes_through_the_twilio_client(db, fake, gateway):
    sms = await enqueue("sms")
    whatsapp = await enqueue("wa", to="+59160000001", channel=Channel.WHATSAPP)
    report = await dispatch_due(gateway, CONFIG)
    assert (report.sent, report.failed, report.retrying) == (2, 0, 0)
    by_to = {r.one("To"): r for r in fake.accepted}
    sent_sms = by_to["+59171234567"]
    assert sent_sms.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent_sms.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent_sms.one("From") == "+15005550006"
    assert sent_sms.one("Body") == "SEGIP: es su turno C-001. Pase a la ventanilla 3."
    assert sent_sms.one("StatusCallback") == f"{PUBLIC}/api/notifications/twilio/status?id={sms}"
    assert sent_sms.headers["User-Agent"].startswith("twilio-python/")
    sent_wa = by_to["whatsapp:+59160000001"]
    assert sent_wa.one("From") == "whatsapp:+14155238886"
    rows = {m.id: m for m in await OutboundMessage.all()}
    assert rows[sms].provider_sid == sent_sms.sid and rows[sms].status == MessageStatus.SENT
    assert rows[whatsapp].provider_sid == sent_wa.sid


async def test_a_messaging_service_replaces_the_sender(db, fake):
    gw = gateway_for(fake, sms_from="", messaging_service_sid="MG" + "a" * 32)
    try:
        await enqueue("svc")
        assert (await dispatch_due(gw, CONFIG)).sent == 1
    finally:
        await gw.aclose()
    (request,) = fake.accepted
    assert request.one("MessagingServiceSid") == "MG" + "a" * 32 and request.one("From") is None


async def test_provider_errors_are_retried_with_backoff_and_sent_once(db, fake, gateway):
    row = await enqueue("retry")
    fake.fail_next(3, status=500)
    waits = []
    for attempt in range(1, 4):
        report = await dispatch_due(gateway, CONFIG)
        assert (report.claimed, report.retrying, report.sent) == (1, 1, 0)
        message = await OutboundMessage.get(id=row)
        assert message.status == MessageStatus.PENDING and message.attempts == attempt
        assert "500" in message.last_error
        wait = message.next_attempt_at - clock.now()
        waits.append(wait)
        # Not before its time …
        assert (await dispatch_due(gateway, CONFIG)).claimed == 0
        clock.advance(wait)
    assert waits == [backoff(n, CONFIG.backoff_base, CONFIG.backoff_cap) for n in (1, 2, 3)]
    assert waits == [timedelta(seconds=20), timedelta(seconds=40), timedelta(seconds=80)]
    report = await dispatch_due(gateway, CONFIG)
    assert report.sent == 1
    message = await OutboundMessage.get(id=row)
    assert message.status == MessageStatus.SENT and message.attempts == 4 and message.last_error is None
    assert [r.status for r in fake.requests] == [500, 500, 500, 201]
    assert len(fake.accepted) == 1 and message.provider_sid == fake.accepted[0].sid
    clock.advance(timedelta(hours=1))
    assert (await dispatch_due(gateway, CONFIG)).claimed == 0
    assert len(fake.requests) == 4


async def test_a_refused_message_fails_at_once(db, fake, gateway):
    row = await enqueue("invalid")
    fake.fail_next(1, status=400, code=21211, message="The 'To' number is not a valid phone number.")
    report = await dispatch_due(gateway, CONFIG)
    assert (report.failed, report.retrying) == (1, 0)
    message = await OutboundMessage.get(id=row)
    assert message.status == MessageStatus.FAILED and "21211" in message.last_error
    clock.advance(timedelta(days=1))
    assert (await dispatch_due(gateway, CONFIG)).claimed == 0


async def test_retries_stop_at_the_limit(db, fake, gateway):
    row = await enqueue("limit")
    fake.fail_next(CONFIG.max_attempts, status=503)
    for _ in range(CONFIG.max_attempts):
        await dispatch_due(gateway, CONFIG)
        clock.advance(CONFIG.backoff_cap)
    message = await OutboundMessage.get(id=row)
    assert message.status == MessageStatus.FAILED and message.attempts == CONFIG.max_attempts
    assert len(fake.requests) == CONFIG.max_attempts and not fake.accepted


async def test_provider_unreachable_never_blocks_the_state_change(db, fake):
    """With nothing listening where Twilio should be, issuing a ticket with a phone
    and calling it still work; the message waits and goes out once Twilio is back."""
    down = gateway_for(fake, api_base_url=f"http://127.0.0.1:{free_port()}")
    office = await Office.get(code="LPZ-PRINCIPAL")
    actor = await _operator(office)
    await desks.set_desk_status(office, "3", DeskStatus.OPEN, actor)
    ticket = await issuing.issue_ticket(office, "CI-RENOV", phone="+59171111111", actor=None, config=QueueConfig())
    called = await calls.call_next(office, "3", actor, QueueConfig())
    assert called["id"] == ticket["id"] and called["status"] == "called"
    report = await dispatch_due(down, CONFIG)
    assert (report.retrying, report.sent) == (1, 0)
    message = await OutboundMessage.get(template="turno_llamado")
    assert message.status == MessageStatus.PENDING and "conexión" in message.last_error
    await down.aclose()
    clock.advance(CONFIG.backoff_base)
    up = gateway_for(fake)
    try:
        assert (await dispatch_due(up, CONFIG)).sent == 1
    finally:
        await up.aclose()
    assert fake.accepted[0].one("Body") == "SEGIP: es su turno C-001. Pase a la ventanilla 3."


async def test_several_dispatchers_at_once_send_each_message_once(db, fake):
    """Four dispatchers (each its own gateway and connection) race over 400 due
    messages while the provider is slow and sometimes fails: every message reaches
    the provider exactly once."""
    total = 400
    config = NotificationConfig(batch_size=25, concurrency=8, backoff_base=timedelta(seconds=1), max_attempts=5)
    async with in_transaction() as conn:
        for n in range(total):
            await outbox.enqueue(conn, CONFIG, to=f"+5917{n:07d}", template="sin_cita", context={}, dedupe_key=f"bulk:{n}")
    fake.slow(0.002)
    fake.fail_next(20, status=500)
    gateways = [gateway_for(fake) for _ in range(4)]
    try:
        for _round in range(5):
            reports = await asyncio.gather(*(dispatch_due(gw, config) for gw in gateways))
            if sum(r.claimed for r in reports) == 0:
                break
            clock.advance(timedelta(minutes=1))
    finally:
        for gw in gateways:
            await gw.aclose()
    accepted = Counter(r.one("To") for r in fake.accepted)
    assert len(accepted) == total and set(accepted.values()) == {1}
    assert await OutboundMessage.filter(status=MessageStatus.SENT).count() == total
    sids = await OutboundMessage.all().values_list("provider_sid", flat=True)
    assert sorted(sids) == sorted(r.sid for r in fake.accepted)
    assert len([r for r in fake.requests if r.status == 500]) == 20


DISPATCHER_PROCESS = """
import asyncio, pathlib, sys, time
from turnero.core.db import close_db, init_db
from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import TwilioGateway
from turnero.notifications.policy import NotificationConfig
from tests.driver import app_settings
from turnero.settings import Settings

async def main(url, sid, token, base, barrier, me, peers):
    await init_db(app_settings(database_url=url, db_pool_size=5), migrate=False)
    gateway = TwilioGateway(sid, token, sms_from="+15005550006", api_base_url=base)
    pathlib.Path(barrier, me).touch()
    while len(list(pathlib.Path(barrier).iterdir())) < int(peers):  # start together
        await asyncio.sleep(0.01)
    report = await dispatch_due(gateway, NotificationConfig(batch_size=10, concurrency=4))
    print(report.sent, report.claimed)
    await gateway.aclose()
    await close_db()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_dispatchers_in_separate_processes_send_each_message_once(db, fake, tmp_path):
    """Several instances of the service: two OS processes, each with its own database
    connections, dispatch the same outbox at the same moment."""
    import sys

    total = 120
    clock.reset()  # the processes read the real clock: the messages are due by it
    async with in_transaction() as conn:
        for n in range(total):
            await outbox.enqueue(conn, CONFIG, to=f"+5916{n:07d}", template="sin_cita", context={}, dedupe_key=f"p:{n}")
    fake.slow(0.01)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", DISPATCHER_PROCESS, db.database_url, ACCOUNT_SID, AUTH_TOKEN, fake.url,
            str(barrier), f"p{n}", "2", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for n in range(2)
    ]
    outputs = [await asyncio.wait_for(p.communicate(), timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err.decode()[-2000:] for _out, err in outputs]
    sent = [int(out.split()[0]) for out, _err in outputs]
    assert sum(sent) == total and all(n > 0 for n in sent), sent  # both took part
    accepted = Counter(r.one("To") for r in fake.accepted)
    assert len(accepted) == total and set(accepted.values()) == {1}
    assert await OutboundMessage.filter(status=MessageStatus.SENT).count() == total


async def test_the_apps_jobs_send_a_called_tickets_message(database, fake):
    """The whole app with its scheduled jobs on (real clock): a ticket with a phone is
    issued and called over HTTP, and the dispatcher job sends "es su turno" to Twilio."""
    import httpx

    from tests.conftest import login
    from turnero.app import create_app
    from turnero.demo import seed_demo
    from turnero.settings import Settings

    clock.reset()
    settings = Settings(
        database_url=database.url, run_jobs=True, notify_interval_seconds=1, twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN, twilio_from="+15005550006", twilio_api_base_url=fake.url, public_url=PUBLIC,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await seed_demo()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            kiosk, op = await login(client, "kiosko"), await login(client, "operador3")
            issued = await client.post("/api/offices/LPZ-PRINCIPAL/tickets",
                                       json={"service": "CI-RENOV", "phone": "71234567"}, headers=kiosk)
            assert issued.status_code == 201, issued.text
            assert (await client.post("/api/offices/LPZ-PRINCIPAL/desks/3/open", headers=op)).status_code == 200
            assert (await client.post("/api/offices/LPZ-PRINCIPAL/desks/3/call-next", headers=op)).status_code == 200
            for _ in range(200):  # the job runs every second
                if fake.accepted:
                    break
                await asyncio.sleep(0.05)
    (request,) = fake.accepted
    assert request.one("To") == "+59171234567"
    assert request.one("Body") == f"SEGIP: es su turno {issued.json()['number']}. Pase a la ventanilla 3."
    assert isinstance(app.state.notification_gateway, TwilioGateway)
    assert app.state.notification_gateway._client is None  # closed with the app


async def _operator(office):
    from turnero.core.auth import Principal
    from turnero.core.models import Role, User

    user = await User.get(username="operador3")
    return Principal(user.id, user.username, Role(user.role), office.id, office.code, 0.0)
