"""Exactly-once outbound messages under faults: the real `twilio` client against the
loopback fake of Twilio, a real database, real clocks, no mocks.

A provider that hangs (it accepts the message and answers late) has its request cut at
the send timeout and holds up no other message; two dispatchers sharing one outbox while
the provider fails, hangs and recovers double nothing and lose nothing; a dispatcher
process killed with SIGKILL mid-send leaves messages whose outcome is unknown, and the
next dispatcher finds them at the provider (Messages list) instead of sending them
again. Every count comes from what the fake accepted, per outbox id."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
from turnero.notifications import outbox
from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import SendError, TwilioGateway, Outgoing
from turnero.notifications.models import Channel, MessageStatus, OutboundMessage
from turnero.notifications.policy import NotificationConfig

PUBLIC = "https://turnero.example.bo"
TIMEOUT = 0.5  # seconds: small, so the tests take seconds
CONFIG = NotificationConfig(
    send_timeout=TIMEOUT, lease=timedelta(seconds=3 * TIMEOUT), concurrency=4, batch_size=10,
    backoff_base=timedelta(seconds=0.2), backoff_cap=timedelta(seconds=1), max_attempts=50,
)


@pytest.fixture(scope="module")
def fake():
    server = TwilioFake().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _setup(fake):
    fake.reset()
    yield
    fake.hang(0)


def gateway_for(fake: TwilioFake) -> TwilioGateway:
    return TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, sms_from="+15005550006", public_url=PUBLIC,
                         api_base_url=fake.url, timeout=TIMEOUT)


async def enqueue(count: int, prefix: str) -> list[int]:
    ids = []
    async with in_transaction() as conn:
        for n in range(count):
            ids.append(await outbox.enqueue(
                conn, CONFIG, to=f"+5917{n % 7:07d}", template="turno_llamado", dedupe_key=f"{prefix}:{n}",
                context={"institucion": "SEGIP", "numero": f"{prefix[:1].upper()}-{n:03d}", "ventanilla": "3"},
            ))
    return ids


async def tally(fake: TwilioFake, ids: list[int]) -> tuple[int, int]:
    """(doubled, lost) among `ids`: messages the fake accepted more than once, or never;
    and every row is `sent` with the sid the fake gave it."""
    accepted = Counter(r.outbox_id for r in fake.accepted if r.outbox_id in set(ids))
    doubled = sum(n - 1 for n in accepted.values())
    lost = sum(1 for i in ids if not accepted[i])
    sids = {r.outbox_id: r.sid for r in fake.accepted}
    for row in await OutboundMessage.filter(id__in=ids):
        if accepted[row.id] == 1:
            assert row.status == MessageStatus.SENT and row.provider_sid == sids[row.id], row
            assert row.unsure_since is None and row.claimed_by is None
    return doubled, lost


async def until_all_sent(ids: list[int], *gateways, seconds: float = 30.0) -> list:
    """Run the dispatchers (together) until every row of `ids` is sent."""
    reports = []
    deadline = time.monotonic() + seconds
    while await OutboundMessage.filter(id__in=ids, status=MessageStatus.SENT).count() < len(ids):
        assert time.monotonic() < deadline, "messages still unsent"
        reports += await asyncio.gather(*(dispatch_due(gw, CONFIG) for gw in gateways))
        await asyncio.sleep(0.1)
    return reports


async def test_the_twilio_clients_own_timeout_cuts_a_hanging_request(fake):
    """The library's async client ignored its timeout (aiohttp's 300 s applied); the cut
    now comes at the timeout, before the gateway's asyncio guard (timeout + 1 s)."""
    gateway = gateway_for(fake)
    fake.hang(5, count=1)
    started = time.monotonic()
    try:
        with pytest.raises(SendError) as caught:
            await gateway.send(Outgoing(id=1, to="+59171234567", channel=Channel.SMS, body="hola"))
    finally:
        await gateway.aclose()
    elapsed = time.monotonic() - started
    assert TIMEOUT <= elapsed < TIMEOUT + 0.9, elapsed
    assert caught.value.retryable and caught.value.unsure  # it may have gone out: ask before resending
    assert len(fake.accepted) == 1


async def test_a_hanging_send_holds_up_no_other_and_is_found_not_resent(db, fake):
    ids = await enqueue(9, "hang")
    fake.hang(5, count=1)  # the first message is accepted but answered only after 5 s
    gateway = gateway_for(fake)
    try:
        started = time.monotonic()
        report = await dispatch_due(gateway, CONFIG)
        elapsed = time.monotonic() - started
        assert elapsed < TIMEOUT + 1.5, elapsed  # cut at the timeout, not after the 5 s
        assert (report.sent, report.retrying) == (8, 1)
        [held] = [r for r in fake.accepted if r.held]
        others = [r for r in fake.accepted if r is not held]
        assert len(others) == 8 and max(r.at for r in others) - held.at < TIMEOUT  # none waited for it
        hung = await OutboundMessage.get(id=held.outbox_id)
        assert hung.status == MessageStatus.PENDING and hung.unsure_since is not None
        # Its next attempt asks Twilio first, finds it, and records it with Twilio's sid.
        reports = await until_all_sent(ids, gateway)
        assert sum(r.reconciled for r in reports) == 1 and fake.list_requests >= 1
    finally:
        await gateway.aclose()
    assert await tally(fake, ids) == (0, 0)


async def test_a_lease_is_renewed_while_its_send_is_in_flight(db, fake):
    """A lease shorter than a (slow but successful) send: renewal keeps the second
    dispatcher off the row, which is sent once."""
    config = NotificationConfig(send_timeout=2.0, lease=timedelta(seconds=0.3), concurrency=2)
    ids = await enqueue(1, "renew")
    fake.hang(1.0, count=1)
    first, second = gateway_for(fake), gateway_for(fake)
    first.timeout = second.timeout = 2.0

    async def meanwhile():
        await asyncio.sleep(0.1)
        reports = []
        while len(fake.accepted) == 0 or (await OutboundMessage.get(id=ids[0])).status != MessageStatus.SENT:
            reports.append(await dispatch_due(second, config))
            await asyncio.sleep(0.05)
        return reports

    try:
        report, others = await asyncio.gather(dispatch_due(first, config), meanwhile())
    finally:
        await first.aclose()
        await second.aclose()
    assert report.sent == 1 and sum(r.claimed for r in others) == 0
    assert await tally(fake, ids) == (0, 0)


async def test_two_dispatchers_and_a_failing_hanging_recovering_provider(db, fake):
    ids = await enqueue(40, "two")
    fake.fail_next(6, status=500)  # an outage…
    fake.hang(3, count=4)  # …then four messages accepted but answered after 3 s (cut at 0.5 s)…
    gateways = [gateway_for(fake), gateway_for(fake)]  # …then it recovers
    try:
        reports = await until_all_sent(ids, *gateways)
    finally:
        for gateway in gateways:
            await gateway.aclose()
    assert len([r for r in fake.requests if r.status == 500]) == 6
    assert sum(r.reconciled for r in reports) == 4  # the hung ones, found at Twilio
    assert await tally(fake, ids) == (0, 0)


DISPATCHER = """
import asyncio, sys
from datetime import timedelta
from turnero.core.db import init_db
from turnero.notifications.dispatcher import dispatch_due
from turnero.notifications.gateways import TwilioGateway
from turnero.notifications.policy import NotificationConfig
from tests.driver import app_settings
from turnero.settings import Settings

async def main(url, sid, token, base, public, timeout):
    timeout = float(timeout)
    await init_db(app_settings(database_url=url, db_pool_size=4), migrate=False)
    gateway = TwilioGateway(sid, token, sms_from="+15005550006", api_base_url=base, public_url=public,
                            timeout=timeout)
    config = NotificationConfig(send_timeout=timeout, lease=timedelta(seconds=3 * timeout), concurrency=4,
                                batch_size=10, backoff_base=timedelta(seconds=0.2), max_attempts=50)
    print("ready", flush=True)
    while True:  # until killed
        await dispatch_due(gateway, config)
        await asyncio.sleep(0.05)

asyncio.run(main(*sys.argv[1:]))
"""

KILLS = int(os.environ.get("TURNERO_OUTBOX_KILLS", "3"))  # more for a longer measured run


async def test_kill_9_mid_send_then_reconcile_doubles_and_loses_nothing(db, fake):
    """A real dispatcher process is killed with SIGKILL while messages are in flight
    (accepted by Twilio, not yet answered): the next dispatcher, once the dead claims'
    leases lapse, finds those at Twilio and sends only the others. Repeated KILLS times."""
    rng = random.Random(17)
    gateway = gateway_for(fake)
    figures = {"messages": 0, "unknown_at_kill": 0, "reconciled": 0, "doubled": 0, "lost": 0}
    try:
        for round_ in range(KILLS):
            ids = await enqueue(30, f"kill{round_}")
            before = len(fake.accepted)
            fake.hang(0.3)  # every answer 0.3 s late: there are always messages in flight
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", DISPATCHER, db.database_url, ACCOUNT_SID, AUTH_TOKEN, fake.url, PUBLIC,
                str(TIMEOUT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            target = before + rng.randint(3, 20)
            deadline = time.monotonic() + 60
            while len(fake.accepted) < target:
                if process.returncode is not None or time.monotonic() > deadline:
                    _out, err = await process.communicate()
                    pytest.fail(f"the dispatcher process ended or sent nothing: {err.decode()[-2000:]}")
                await asyncio.sleep(0.01)
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
            fake.hang(0)
            unknown = await OutboundMessage.filter(id__in=ids, status=MessageStatus.SENDING).count()
            reports = await until_all_sent(ids, gateway)
            doubled, lost = await tally(fake, ids)
            figures["messages"] += len(ids)
            figures["unknown_at_kill"] += unknown
            figures["reconciled"] += sum(r.reconciled for r in reports)
            figures["doubled"] += doubled
            figures["lost"] += lost
    finally:
        await gateway.aclose()
    print(f"\nkill -9 x{KILLS} ({db.database_url.split(':')[0]}): {figures}")
    assert figures["reconciled"] > 0  # some were in flight at the kill and found at Twilio
    assert (figures["doubled"], figures["lost"]) == (0, 0), figures
