#!/usr/bin/env python
"""The audit's outbox faults replayed at production settings (10 s send timeout, 2 min
lease, 30 s first backoff, the job every 5 s): the loopback fake of Twilio accepts
messages but answers 150 s late.

1. hang: 9 «es su turno» messages due, the first hangs; one dispatcher. Prints how long
   after the hung request the other 8 reached Twilio, when the hung request was cut, and whether it was then found at
   Twilio (not sent again).
2. two instances: 6 messages, every one hangs; two dispatchers on the same database.

Each counts doubled and lost messages from the fake's records (by outbox id, from each
request's StatusCallback URL). kill -9 runs are tests/live/test_outbox_faults.py
(TURNERO_OUTBOX_KILLS=20 for a longer run).

    python benchmarks/outbox_faults.py --backend both
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks import common  # noqa: E402

PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
PG_BENCH_DB = "turnero_bench_outbox_faults"
PUBLIC_URL = "https://turnero.example.bo"
HANG = 150.0
JOB_EVERY = 5.0


async def scenario(database_url: str, name: str, messages: int, hangs: int, dispatchers: int) -> dict:
    from tortoise.transactions import in_transaction

    from tests.twilio_fake import ACCOUNT_SID, AUTH_TOKEN, TwilioFake
    from turnero.core.db import close_db, init_db
    from turnero.notifications import outbox
    from turnero.notifications.dispatcher import dispatch_due
    from turnero.notifications.gateways import TwilioGateway
    from turnero.notifications.models import MessageStatus, OutboundMessage
    from turnero.notifications.policy import NotificationConfig
    from turnero.settings import Settings

    settings = Settings(database_url=database_url, run_jobs=False)
    config = NotificationConfig.from_settings(settings)
    await init_db(settings)
    fake = TwilioFake().start()
    gateways = [TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, sms_from="+15005550006", public_url=PUBLIC_URL,
                              api_base_url=fake.url, timeout=config.send_timeout) for _ in range(dispatchers)]
    try:
        async with in_transaction() as conn:
            ids = [await outbox.enqueue(conn, config, to=f"+5917{n:07d}", template="turno_llamado", dedupe_key=f"{name}:{n}",
                                        context={"institucion": "SEGIP", "numero": f"C-{n:03d}", "ventanilla": "3"})
                   for n in range(messages)]
        fake.hang(HANG, count=hangs)
        started = time.monotonic()
        reconciled = 0

        async def job(gateway) -> None:  # the scheduled job: every JOB_EVERY s, one run at a time
            nonlocal reconciled
            while await OutboundMessage.filter(id__in=ids, status=MessageStatus.SENT).count() < len(ids):
                reconciled += (await dispatch_due(gateway, config)).reconciled
                await asyncio.sleep(JOB_EVERY)

        await asyncio.wait_for(asyncio.gather(*(job(g) for g in gateways)), 600)
        elapsed = time.monotonic() - started
        by_id = Counter(r.outbox_id for r in fake.accepted)
        by_arrival = sorted(fake.accepted, key=lambda r: r.at)
        others = by_arrival[hangs:]  # (the fake hangs the first `hangs` it accepts)
        return {
            "scenario": name, "messages": messages, "hanging": hangs, "dispatchers": dispatchers,
            # The last of the others after the first request (the first hanging one).
            "others_waited_s": round(max((r.at - by_arrival[0].at for r in others), default=0.0), 2),
            "all_recorded_s": round(elapsed, 1), "found_at_twilio": reconciled,
            "doubled": sum(n - 1 for n in by_id.values()), "lost": sum(1 for i in ids if not by_id[i]),
        }
    finally:
        for gateway in gateways:
            await gateway.aclose()
        fake.hang(0)
        fake.stop()
        await close_db()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TURNERO_BENCH_POSTGRES_URL", PG_DEFAULT))
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for name, messages, hangs, dispatchers in (("hang", 9, 1, 1), ("two-instances", 6, 6, 2)):
                url = common.fresh_database(backend, args.postgres_url, Path(tmp), pg_name=PG_BENCH_DB,
                                            sqlite_name=f"{name}.sqlite3")
                try:
                    result = {"backend": backend, **asyncio.run(scenario(url, name, messages, hangs, dispatchers))}
                finally:
                    common.drop_database(backend, args.postgres_url, PG_BENCH_DB)
                print(result, flush=True)
                rows.append(result)
    print("\n| backend | scenario | messages | hanging 150 s | dispatchers | others waited s | all recorded s"
          " | found at Twilio | doubled / lost |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['scenario']} | {r['messages']} | {r['hanging']} | {r['dispatchers']}"
              f" | {r['others_waited_s']} | {r['all_recorded_s']} | {r['found_at_twilio']}"
              f" | {r['doubled']} / {r['lost']} |")


if __name__ == "__main__":
    main()
