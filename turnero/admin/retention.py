"""Retention: detail older than TURNERO_RETENTION_DAYS is rolled up into daily report
figures and deleted, so that the live tables and every backup stop growing forever.

What goes, each part by its own domain's functions (queue/, scheduler/ and
notifications/retention.py): finished tickets and their events; citas that are over
(done, cancelled, no-show) and their events; past slots no cita points at any more;
the number counters of past days; outbox messages whose story is over. Nothing still
active goes, however old: a ticket waiting, called or being served; a cita booked or
checked in (nor its slot); a message pending or being sent. Theory-exam citas and slots
stay (the exam's own records point at them).

The cutoff is a whole office-local day: at an office whose today is D, detail of days
before D − days goes (tickets by the day they were issued, citas and slots by the day
they start). The outbox's cutoff is now − days.

Each batch is one short transaction: it picks at most `batch` rows (locked, oldest
first), merges what they add up to into ReportDay (admin/report_days.py) and deletes
them, so that at every moment the roll-ups plus the detail left give a report the same
figures as the whole detail did. Between batches the job pauses and renews its lease:
one instance runs it at a time (core/leases.py). Each run ends with an audit entry
("retention.purge") holding its counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from turnero.admin import report_days, reports
from turnero.admin.service import audit
from turnero.core import clock, leases
from turnero.core.auth import Principal
from turnero.core.models import Office, Role
from turnero.notifications import retention as outbox_retention
from turnero.queue import retention as queue_retention
from turnero.scheduler import retention as scheduler_retention
from turnero.settings import Settings

log = logging.getLogger("turnero.retention")

LEASE = "retention"
LEASE_TTL = timedelta(minutes=10)  # renewed after every batch
# The fewest days of detail kept: the queue's estimates read the last 14 days of tickets
# (queue/eta_inputs.py), and a month of detail stays at hand for checking complaints.
MIN_DAYS = 31


@dataclass(frozen=True)
class RetentionConfig:
    days: int = 400  # 0: off
    batch: int = 500  # parent rows per batch (tickets, citas, slots, messages, counters)
    pause_seconds: float = 0.2  # between batches
    max_seconds: float = 4 * 3600  # a run stops after this long; the next one goes on

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetentionConfig":
        days = settings.retention_days
        if 0 < days < MIN_DAYS:
            log.warning("TURNERO_RETENTION_DAYS=%d es menos que el mínimo: se conservan %d días", days, MIN_DAYS)
        return cls(days=max(MIN_DAYS, days) if days > 0 else 0, batch=max(1, settings.retention_batch),
                   pause_seconds=max(0, settings.retention_pause_ms) / 1000)

    @property
    def enabled(self) -> bool:
        return self.days > 0

    def with_(self, **changes) -> "RetentionConfig":
        return replace(self, **changes)


@dataclass
class RetentionResult:
    # done, dry_run, off, busy (another instance holds the lease), lease_lost,
    # time_up (max_seconds reached: the next run goes on), failed
    status: str
    days: int = 0
    counts: Counter = field(default_factory=Counter)
    batches: int = 0
    largest_batch: int = 0
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict:
        return {"status": self.status, "days": self.days, "counts": dict(sorted(self.counts.items())),
                "batches": self.batches, "largest_batch": self.largest_batch, "seconds": round(self.seconds, 3),
                **({"error": self.error} if self.error else {})}


def job_actor() -> Principal:
    """The scheduled job, as the audit names it."""
    return Principal(user_id=None, username="sistema", role=Role.ADMIN, office_id=None,  # type: ignore[arg-type]
                     office_code=None, expires_at_epoch=0.0)


def office_cutoff(office: Office, now: datetime, days: int) -> datetime:
    """The start (UTC) of the oldest office-local day whose detail is kept."""
    return clock.day_start(clock.local_day(now, office.timezone) - timedelta(days=days), office.timezone)


class _Stop(Exception):
    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


# ---------------------------------------------------------------- one batch of each kind
# Each runs inside the batch's transaction and returns (rows taken, counts).


async def _messages(before: datetime, limit: int) -> tuple[int, dict]:
    taken = await outbox_retention.take_over_messages(before, limit)
    return taken, {"messages": taken}


async def _citas(office: Office, before: datetime, limit: int) -> tuple[int, dict]:
    citas, events = await scheduler_retention.take_over_appointments(office.id, before, limit)
    facts = [reports.AppointmentFact(c["service"], c["start"], c["status"]) for c in citas]
    days = reports.roll_up(citas=facts, tz=office.timezone)
    await report_days.add(office.id, days)
    return len(citas), {"appointments": len(citas), "appointment_events": events}


async def _slots(office: Office, before: datetime, limit: int) -> tuple[int, dict]:
    slots = await scheduler_retention.take_past_slots(office.id, before, limit)
    facts = [reports.SlotFact(s["service"], s["capacity"], s["booked"], s["start"]) for s in slots]
    await report_days.add(office.id, reports.roll_up(slots=facts, tz=office.timezone))
    return len(slots), {"slots": len(slots)}


async def _tickets(office: Office, before: datetime, limit: int) -> tuple[int, dict]:
    tickets, events = await queue_retention.take_finished(office.id, before, limit)
    facts = [reports.TicketFact(
        service=t["service"], status=t["status"], issued_at=t["issued_at"], hop=t["hop"], called_at=t["called_at"],
        started_at=t["started_at"], finished_at=t["finished_at"], desk=t["desk"], operator=t["operator"],
    ) for t in tickets]
    await report_days.add(office.id, reports.roll_up(tickets=facts, tz=office.timezone))
    return len(tickets), {"tickets": len(tickets), "ticket_events": events}


async def _counters(office: Office, before: datetime, limit: int) -> tuple[int, dict]:
    taken = await queue_retention.take_counters(office.id, clock.local_day(before, office.timezone), limit)
    return taken, {"ticket_counters": taken}


# ---------------------------------------------------------------- the run


class _Run:
    def __init__(self, config: RetentionConfig, result: RetentionResult, holder: str, sleep):
        self.config, self.result, self.holder, self.sleep = config, result, holder, sleep
        self.started = time.monotonic()

    async def drain(self, step, *args) -> None:
        """Batches of `step` until it finds nothing more."""
        while True:
            if time.monotonic() - self.started > self.config.max_seconds:
                raise _Stop("time_up")
            async with in_transaction():
                taken, counts = await step(*args, self.config.batch)
            if not taken:
                return
            self.result.counts.update(counts)
            self.result.batches += 1
            self.result.largest_batch = max(self.result.largest_batch, taken)
            await self.sleep(self.config.pause_seconds)
            if not await leases.renew(LEASE, self.holder, LEASE_TTL):
                raise _Stop("lease_lost")


async def _kept(offices: list[Office], now: datetime, days: int) -> Counter:
    """Old rows kept because they are still active (the audit says how many)."""
    kept: Counter = Counter()
    kept["kept_active_messages"] = (await outbox_retention.count_old(now - timedelta(days=days)))[
        "kept_active_messages"]
    for office in offices:
        before = office_cutoff(office, now, days)
        kept["kept_active_tickets"] += (await queue_retention.count_old(
            office.id, before, clock.local_day(before, office.timezone)))["kept_active_tickets"]
        kept["kept_active_citas"] += (await scheduler_retention.count_old(office.id, before))["kept_active_citas"]
    return kept


async def dry_run(config: RetentionConfig, now: datetime | None = None) -> RetentionResult:
    """What a run would delete now (counts only; nothing changes)."""
    now = now or clock.now()
    result = RetentionResult(status="dry_run", days=config.days)
    if not config.enabled:
        result.status = "off"
        return result
    result.counts.update(await outbox_retention.count_old(now - timedelta(days=config.days)))
    for office in await Office.all().order_by("id"):
        before = office_cutoff(office, now, config.days)
        result.counts.update(await scheduler_retention.count_old(office.id, before))
        result.counts.update(await queue_retention.count_old(office.id, before,
                                                             clock.local_day(before, office.timezone)))
    return result


async def run_retention(config: RetentionConfig, *, actor: Principal | None = None, now: datetime | None = None,
                        sleep=asyncio.sleep) -> RetentionResult:
    """One retention run (see the module's docstring); returns what it did."""
    if not config.enabled:
        return RetentionResult(status="off")
    now = now or clock.now()
    holder = leases.new_holder()
    if not await leases.claim(LEASE, holder, LEASE_TTL):
        log.info("retención: otra instancia la está ejecutando (%s)", await leases.holder_of(LEASE))
        return RetentionResult(status="busy", days=config.days)
    result = RetentionResult(status="done", days=config.days)
    run = _Run(config, result, holder, sleep)
    try:
        # The outbox first: deleting a ticket then finds fewer messages to unlink.
        await run.drain(_messages, now - timedelta(days=config.days))
        offices = await Office.all().order_by("id")
        for office in offices:
            before = office_cutoff(office, now, config.days)
            # Citas before slots (a cita holds its slot); tickets after citas (a
            # checked-in cita points at its ticket, which is then only unlinked).
            for step in (_citas, _slots, _tickets, _counters):
                await run.drain(step, office, before)
        result.counts.update(await _kept(offices, now, config.days))
    except _Stop as stop:
        result.status = stop.status
    except Exception as exc:  # the audit entry still says what was done before it
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("retención: falló")
    finally:
        result.seconds = time.monotonic() - run.started
        await leases.release(LEASE, holder)
        await audit(actor or job_actor(), "retention.purge", f"detalle de más de {config.days} días", None,
                    None, result.as_dict())
    log.info("retención (%s): %s en %d lotes, %.1f s", result.status,
             ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items())) or "nada", result.batches,
             result.seconds)
    return result
