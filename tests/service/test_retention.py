"""Retention (turnero/admin/retention.py): old finished detail is rolled up into daily
report figures and deleted in bounded batches; reports over purged periods give the
same figures as before; nothing active is touched; one instance at a time; audited."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from turnero.admin import report_service, reports
from turnero.admin.models import ReportDay
from turnero.core.audit import AuditEntry
from turnero.admin.reports import ServiceDay, TicketFact
from turnero.admin.retention import LEASE, RetentionConfig, dry_run, run_retention
from turnero.core import clock, leases
from turnero.core.auth import Principal
from turnero.core.models import Office, Role, Service, User
from turnero.notifications.models import OutboundMessage
from turnero.queue import actions, calls, day_close, issuing
from turnero.queue.config import QueueConfig
from turnero.queue.desks import set_desk_status
from turnero.queue.models import DeskStatus, Ticket, TicketCounter, TicketEvent, TicketStatus
from turnero.scheduler.models import Appointment, AppointmentEvent, Slot
from tests.driver import app_settings
from turnero.settings import Settings

LA_PAZ = ZoneInfo("America/La_Paz")
OFFICE = "LPZ-PRINCIPAL"
OLD_DAYS = (datetime(2025, 6, 10, tzinfo=LA_PAZ), datetime(2025, 6, 11, tzinfo=LA_PAZ))  # Tue, Wed
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=LA_PAZ)  # 532 days after: the old days are past 400
RECENT = datetime(2026, 11, 10, tzinfo=LA_PAZ)
CONFIG = RetentionConfig(days=400, batch=3, pause_seconds=0)
ADMIN = Principal(None, "admin", Role.ADMIN, None, None, 0.0)  # type: ignore[arg-type]


def local_at(day: datetime, hh: int, mm: int, ss: int = 0, us: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss, microsecond=us).astimezone(timezone.utc)


# ---------------------------------------------------------------- pure: a roll-up counts as its detail


def random_facts(rng: random.Random, day: datetime, n: int) -> list[TicketFact]:
    """Tickets of one day with times to the microsecond (as stored), every outcome."""
    facts = []
    for i in range(n):
        issued = local_at(day, 8, 0) + timedelta(seconds=rng.uniform(0, 8 * 3600))
        status = rng.choice(["done", "done", "done", "no_show", "cancelled", "transferred", "waiting", "serving"])
        called = issued + timedelta(seconds=rng.uniform(0, 3600)) if status not in ("cancelled", "waiting") else None
        started = called + timedelta(seconds=rng.uniform(0, 90)) if called and rng.random() < 0.7 else None
        # Some run past midnight: desk time is clipped at the period's end.
        finished = (called + timedelta(seconds=rng.uniform(60, 7200 if i % 17 else 40000))
                    if called and status != "serving" else None)
        facts.append(TicketFact(
            service=rng.choice(["CI-RENOV", "CERT", "SANEAMIENTO"]), status=status, issued_at=issued,
            hop=1 if status != "transferred" and rng.random() < 0.15 else 0, called_at=called, started_at=started,
            finished_at=finished, desk=rng.choice(["1", "2", "3"]) if called else None,
            operator=rng.choice(["op1", "op2", None]) if status in ("done", "no_show") else None,
        ))
    return facts


def test_roll_ups_give_the_figures_of_the_detail_they_replace():
    rng = random.Random(7)
    days = [datetime(2025, 6, d, tzinfo=LA_PAZ) for d in (9, 10, 11)]
    tickets = [f for day in days for f in random_facts(rng, day, 60)]
    start, end = local_at(days[0], 0, 0), local_at(days[-1] + timedelta(days=1), 0, 0)
    changes = [reports.DeskChange(desk, kind, local_at(day, hh, mm)) for day in days for desk in ("1", "2", "3")
               for kind, hh, mm in (("open", 7, 50), ("paused", 11, 5), ("open", 11, 40), ("closed", 16, 30))]
    slots = [reports.SlotFact("CI-RENOV", 4, rng.randint(0, 4), local_at(d, 9, 0)) for d in days for _ in range(5)]
    citas = [reports.AppointmentFact("CI-RENOV", local_at(d, 9, 0), rng.choice(["done", "no_show", "cancelled", "booked"]))
             for d in days for _ in range(9)]
    whole = reports.build_report(tickets, changes, tz="America/La_Paz", start=start, end=end)
    whole_citas = reports.citas_fill(slots, [c.status for c in citas])

    # Only finished tickets are rolled up (the active ones stay detail), in batches of
    # any size, merged into the day in any order.
    finished = [t for t in tickets if t.status not in ("waiting", "serving")]
    active = [t for t in tickets if t.status in ("waiting", "serving")]
    rng.shuffle(finished)
    merged: dict = {}
    for i in range(0, len(finished), 7):
        for d in reports.roll_up(finished[i:i + 7], tz="America/La_Paz"):
            merged[d.key] = merged[d.key].merge(d) if d.key in merged else d
    rolled = list(merged.values())
    assert reports.build_report(active, changes, tz="America/La_Paz", start=start, end=end, days=rolled) == whole
    assert sum(d.tickets for d in rolled) == len(finished)

    # Citas and slots: a roll-up of part of them with the rest as detail.
    rolled_citas = reports.roll_up(slots=slots[:8], citas=citas[:20], tz="America/La_Paz")
    assert reports.citas_fill(slots[8:], [c.status for c in citas[20:]], rolled_citas) == whole_citas

    # A period that ends on a rolled day clips the desk time of tickets past midnight.
    one_day_end = local_at(days[0] + timedelta(days=1), 0, 0)
    first_day = [t for t in finished if t.issued_at < one_day_end]
    assert reports.build_report([], [], tz="America/La_Paz", start=start, end=one_day_end,
                                days=reports.roll_up(first_day, tz="America/La_Paz")) == \
        reports.build_report(first_day, [], tz="America/La_Paz", start=start, end=one_day_end)


def test_service_days_merge_only_their_own_key():
    a = ServiceDay("CERT", OLD_DAYS[0].date(), visits=1)
    with pytest.raises(ValueError):
        a.merge(ServiceDay("CI-RENOV", OLD_DAYS[0].date()))


# ---------------------------------------------------------------- settings and the job's switch


def test_settings_default_to_400_days_and_empty_or_zero_turns_retention_off(monkeypatch):
    monkeypatch.delenv("TURNERO_RETENTION_DAYS", raising=False)
    assert Settings.from_env().retention_days == 400
    for off in ("", "0", " "):
        monkeypatch.setenv("TURNERO_RETENTION_DAYS", off)
        settings = Settings.from_env()
        assert settings.retention_days == 0 and not RetentionConfig.from_settings(settings).enabled
    monkeypatch.setenv("TURNERO_RETENTION_DAYS", "90")
    monkeypatch.setenv("TURNERO_RETENTION_BATCH", "100")
    config = RetentionConfig.from_settings(Settings.from_env())
    assert (config.days, config.batch, config.pause_seconds) == (90, 100, 0.2)
    # Fewer days than the queue's estimates read is raised to the minimum.
    monkeypatch.setenv("TURNERO_RETENTION_DAYS", "7")
    assert RetentionConfig.from_settings(Settings.from_env()).days == 31


def test_the_job_is_scheduled_only_when_retention_is_on():
    from types import SimpleNamespace

    from turnero.admin import jobs

    class Scheduler:
        def __init__(self):
            self.jobs = {}

        def add_job(self, func, trigger, **kw):
            self.jobs[kw["id"]] = (func, trigger, kw)

    for days, expected in ((0, {}), (400, {"admin.retention"})):
        scheduler = Scheduler()
        app = SimpleNamespace(state=SimpleNamespace(settings=Settings(retention_days=days)))
        jobs.register(scheduler, app)
        assert set(scheduler.jobs) == set(expected)
    _func, trigger, kw = scheduler.jobs["admin.retention"]
    assert trigger == "cron" and kw["hour"] == 7 and kw["args"][0].days == 400


# ---------------------------------------------------------------- a database with old and new detail


async def operator(name: str) -> Principal:
    user = await User.get(username=name).prefetch_related("office")
    return Principal(user.id, user.username, Role(user.role), user.office_id, user.office.code, 0.0)


async def play_day(day: datetime, seed: int, leave_called: bool) -> None:
    """A day at the main office through the queue's service functions: tickets issued,
    called, started, finished, marked absent, transferred; those left waiting are
    cancelled by the day close; with `leave_called`, one stays called for ever."""
    rng = random.Random(seed)
    config = QueueConfig.from_settings(Settings())
    office = await Office.get(code=OFFICE)
    desks = {"3": await operator("operador3"), "5": await operator("operador5"), "9": await operator("operador9")}
    at = local_at(day, 7, 55, 1, 250)

    def tick(lo: float, hi: float) -> None:
        nonlocal at
        at += timedelta(seconds=rng.uniform(lo, hi), microseconds=rng.randrange(10**6))
        clock.freeze(at)

    tick(0, 1)
    for name, actor in desks.items():
        await set_desk_status(office, name, DeskStatus.OPEN, actor)
    for i in range(14):
        tick(20, 200)
        await issuing.issue_ticket(office, rng.choice(["CI-RENOV", "CERT", "SANEAMIENTO"]), actor=None, config=config,
                                 phone="+5917123456" + str(i % 10) if i % 3 == 0 else None)
    for round_ in range(5):
        if round_ == 2:
            tick(10, 30)
            await set_desk_status(office, "5", DeskStatus.PAUSED, desks["5"])
            tick(60, 300)
            await set_desk_status(office, "5", DeskStatus.OPEN, desks["5"])
        for name, actor in desks.items():
            tick(30, 400)
            called = await calls.call_next(office, name, actor, config)
            if called is None:
                continue
            ticket = await actions.get_ticket(called["id"])
            action = rng.choice(["finish", "start_finish", "start_finish", "no_show", "transfer"])
            tick(20, 600)
            if action == "no_show":
                await actions.no_show(ticket, actor, config)
                continue
            if action == "transfer" and ticket.service_id != (await Service.get(code="CERT")).id:
                await actions.transfer(ticket, "CERT", actor, config)
                continue
            if action == "start_finish":
                await actions.start(ticket, actor, config)
                tick(60, 900)
            await actions.finish(await actions.get_ticket(called["id"]), actor, config)
    if leave_called:  # desk 1's operator never finishes it: it stays "called" for ever
        tick(20, 60)
        await issuing.issue_ticket(office, "CI-RENOV", actor=None, config=config)
        await set_desk_status(office, "1", DeskStatus.OPEN, await operator("operador1"))
        assert await calls.call_next(office, "1", await operator("operador1"), config)
    tick(60, 120)
    for name, actor in desks.items():
        await set_desk_status(office, name, DeskStatus.CLOSED, actor)
    # The next morning the day close cancels what was left waiting.
    clock.freeze(local_at(day + timedelta(days=1), 6, 0))
    await day_close.close_all_days(config)


async def add_citas(day: datetime, n: int) -> None:
    """Slots and citas of CI-RENOV on `day` (written directly, as past days would be)."""
    office, service = await Office.get(code=OFFICE), await Service.get(code="CI-RENOV")
    statuses = ["done", "done", "no_show", "cancelled", "booked", "checked_in"]
    for i in range(n):
        start = local_at(day, 8, 0) + timedelta(minutes=15 * i)
        slot = await Slot.create(office=office, service=service, start=start, end=start + timedelta(minutes=15),
                                 day=day.date(), capacity=3, booked=0 if i % 4 == 3 else 2)
        if i % 4 == 3:
            continue  # a slot nobody booked
        for j in range(2):
            status = statuses[(i + j) % len(statuses)]
            appt = await Appointment.create(
                public_id=f"p{day:%m%d}{i:03d}{j}", code=f"C{day:%m%d}{i:02d}{j}", office=office, service=service,
                slot=slot, start=start, end=start + timedelta(minutes=15), status=status,
                document_number=f"{day:%m%d}{i:03d}{j}", document_key=f"ci:{day:%m%d}{i:03d}{j}",
                name="Persona de prueba", created_at=start - timedelta(days=3))
            await AppointmentEvent.create(appointment=appt, kind="booked", at=start - timedelta(days=3))
            await AppointmentEvent.create(appointment=appt, kind=status, at=start)


async def add_exam_slot(day: datetime) -> Slot:
    office, service = await Office.get(code="LPZ-SEGELIC"), await Service.get(code="EXAM-TEORICO")
    start = local_at(day, 9, 0)
    return await Slot.create(office=office, service=service, start=start, end=start + timedelta(minutes=45),
                             day=day.date(), capacity=20, booked=0)


async def build_history() -> None:
    for i, day in enumerate(OLD_DAYS):
        await play_day(day, seed=i, leave_called=(i == 0))
        await add_citas(day, 8)
    await add_exam_slot(OLD_DAYS[0])
    await play_day(RECENT, seed=9, leave_called=False)
    await add_citas(RECENT, 4)
    # Outbox: the old messages written by the calls are pending (no dispatcher ran);
    # most are marked sent, one failed for good, some stay pending.
    old = await OutboundMessage.filter(created_at__lt=local_at(OLD_DAYS[1] + timedelta(days=2), 0, 0)).order_by("id")
    assert len(old) >= 4
    for k, message in enumerate(old):
        status = "pending" if k % 5 == 4 else ("failed" if k == 1 else "sent")
        await OutboundMessage.filter(id=message.id).update(status=status)
    await OutboundMessage.filter(created_at__gte=local_at(RECENT, 0, 0)).update(status="sent")
    clock.freeze(NOW.astimezone(timezone.utc))


async def report(first: datetime, last: datetime, office: str = OFFICE) -> dict:
    return await report_service.office_report(ADMIN, office, first.date().isoformat(), last.date().isoformat())


async def snapshot() -> dict:
    return {"old": await report(*OLD_DAYS), "day1": await report(OLD_DAYS[0], OLD_DAYS[0]),
            "recent": await report(RECENT, RECENT + timedelta(days=1))}


async def test_purge_keeps_reports_and_active_rows_and_deletes_the_rest_in_bounded_batches(db):
    await build_history()
    before = await snapshot()
    assert before["old"]["tickets"] >= 20 and before["old"]["citas"]["all"]["capacity"] == 48
    assert before["old"]["outcomes"]["no_show"] and before["old"]["outcomes"]["transferred"]
    assert before["old"]["outcomes"]["cancelled"]  # the day close
    old_end = local_at(OLD_DAYS[1] + timedelta(days=1), 0, 0)
    active_tickets = await Ticket.filter(issued_at__lt=old_end, status__in=["waiting", "called", "serving"]) \
        .values_list("id", flat=True)
    assert len(active_tickets) == 1  # the one left called
    active_events = await TicketEvent.filter(ticket_id__in=active_tickets).count()
    active_citas = await Appointment.filter(start__lt=old_end, status__in=["booked", "checked_in"]) \
        .values_list("id", "slot_id")
    assert active_citas
    recent = {"tickets": await Ticket.filter(issued_at__gte=local_at(RECENT, 0, 0)).count(),
              "citas": await Appointment.filter(start__gte=local_at(RECENT, 0, 0)).count(),
              "slots": await Slot.filter(start__gte=local_at(RECENT, 0, 0)).count(),
              "messages": await OutboundMessage.filter(created_at__gte=local_at(RECENT, 0, 0)).count()}
    pending = await OutboundMessage.filter(status="pending").values_list("id", flat=True)
    assert pending
    finished_old = await Ticket.filter(issued_at__lt=old_end).exclude(id__in=active_tickets).count()
    planned = await dry_run(CONFIG)
    assert planned.counts["tickets"] == finished_old and planned.counts["kept_active_tickets"] == 1
    assert await Ticket.filter(issued_at__lt=old_end).count() == finished_old + 1  # a dry run changes nothing

    # Between batches (the job's pause), the report must already read the same.
    checks = []

    async def pause(_seconds):
        checks.append(await report(*OLD_DAYS) == before["old"])

    result = await run_retention(CONFIG, now=NOW.astimezone(timezone.utc), sleep=pause)
    assert result.status == "done", result.error
    assert checks and all(checks), f"{checks.count(False)} of {len(checks)} pauses read other figures"

    # Reports over purged (and partly purged) periods read as before; recent ones too.
    assert await snapshot() == before
    csv_before = report_service.report_csv(before["old"], "wait")
    assert report_service.report_csv(await report(*OLD_DAYS), "wait") == csv_before

    # What went: exactly what the dry run announced.
    for key in ("tickets", "ticket_events", "appointments", "appointment_events", "slots", "messages",
                "ticket_counters"):
        assert result.counts[key] == planned.counts[key], key
    assert result.counts["tickets"] == finished_old
    assert await Ticket.filter(issued_at__lt=old_end).count() == 1
    # Batches of at most 3 parent rows; as many as needed.
    assert result.largest_batch == 3
    parents = sum(result.counts[k] for k in ("tickets", "appointments", "slots", "messages", "ticket_counters"))
    assert result.batches >= parents / 3

    # Untouched: the active ticket and its events, active citas and their slots, the
    # exam's slot, pending messages, everything recent.
    assert sorted(await Ticket.filter(issued_at__lt=old_end).values_list("id", flat=True)) == sorted(active_tickets)
    assert await TicketEvent.filter(ticket_id__in=active_tickets).count() == active_events
    kept = await Appointment.filter(start__lt=old_end).values_list("id", "slot_id")
    assert sorted(kept) == sorted(active_citas)
    assert await Slot.filter(id__in=[s for _, s in active_citas]).count() == len({s for _, s in active_citas})
    assert await Slot.filter(start__lt=old_end, service__code="EXAM-TEORICO").count() == 1
    assert sorted(await OutboundMessage.filter(status="pending").values_list("id", flat=True)) == sorted(pending)
    assert await Ticket.filter(issued_at__gte=local_at(RECENT, 0, 0)).count() == recent["tickets"]
    assert await Appointment.filter(start__gte=local_at(RECENT, 0, 0)).count() == recent["citas"]
    assert await Slot.filter(start__gte=local_at(RECENT, 0, 0)).count() == recent["slots"]
    assert await OutboundMessage.filter(created_at__gte=local_at(RECENT, 0, 0)).count() == recent["messages"]
    assert not await OutboundMessage.filter(created_at__lt=old_end, status__in=["sent", "failed"]).exists()
    assert not await TicketCounter.filter(day__lt=OLD_DAYS[1].date() + timedelta(days=1)).exists()

    # The roll-ups hold what went: per office, service and day.
    rows = await ReportDay.all().prefetch_related("service")
    assert {r.day for r in rows} == {d.date() for d in OLD_DAYS}
    assert sum(r.tickets for r in rows) == finished_old
    assert sum(r.slots for r in rows) == result.counts["slots"]
    assert sum(r.citas_done + r.citas_no_show + r.citas_cancelled for r in rows) == result.counts["appointments"]
    done = [r for r in rows if r.done]
    assert all(r.service_count and r.service_p50 is not None for r in done)

    # The audit says what the run did.
    entry = await AuditEntry.filter(action="retention.purge").order_by("-id").first()
    assert entry.username == "sistema" and entry.after["status"] == "done"
    assert entry.after["counts"]["tickets"] == finished_old and entry.after["counts"]["kept_active_tickets"] == 1

    # A second run finds nothing more, and changes no figure.
    again = await run_retention(CONFIG, now=NOW.astimezone(timezone.utc), sleep=pause)
    assert again.status == "done" and again.batches == 0
    assert await snapshot() == before
    assert await AuditEntry.filter(action="retention.purge").count() == 2


async def test_nothing_happens_when_retention_is_off_or_another_instance_holds_it(db):
    await play_day(OLD_DAYS[0], seed=3, leave_called=False)
    clock.freeze(NOW.astimezone(timezone.utc))
    tickets = await Ticket.all().count()
    off = await run_retention(CONFIG.with_(days=0))
    assert off.status == "off" and (await dry_run(CONFIG.with_(days=0))).status == "off"
    assert await leases.claim(LEASE, "otra-instancia", timedelta(minutes=10))  # another instance runs it
    busy = await run_retention(CONFIG)
    assert busy.status == "busy"
    assert await Ticket.all().count() == tickets and not await AuditEntry.filter(action="retention.purge").exists()
    # A lease that lapses (its holder died) is taken over.
    clock.freeze(NOW.astimezone(timezone.utc) + timedelta(minutes=11))
    assert (await run_retention(CONFIG)).status == "done"
    assert await Ticket.all().count() == 0


async def test_two_runs_at_once_one_works_the_other_finds_it_busy(db):
    await play_day(OLD_DAYS[0], seed=4, leave_called=False)
    clock.freeze(NOW.astimezone(timezone.utc))
    results = await asyncio.gather(run_retention(CONFIG), run_retention(CONFIG))
    assert sorted(r.status for r in results) == ["busy", "done"]
    assert await Ticket.all().count() == 0
    assert await leases.holder_of(LEASE) is None  # released at the end


async def test_a_run_that_loses_its_lease_stops_after_the_batch(db):
    await play_day(OLD_DAYS[0], seed=5, leave_called=False)
    clock.freeze(NOW.astimezone(timezone.utc))
    tickets = await Ticket.all().count()

    async def stolen(_seconds):  # meanwhile the lease lapsed and another instance took it
        from turnero.core.models import JobLease

        await JobLease.filter(name=LEASE).update(holder="otra-instancia")

    result = await run_retention(CONFIG, sleep=stolen)
    assert result.status == "lease_lost" and result.batches == 1
    assert await Ticket.all().count() == tickets - result.counts["tickets"]
    entry = await AuditEntry.filter(action="retention.purge").first()
    assert entry.after["status"] == "lease_lost" and entry.after["batches"] == 1


async def test_leases_claim_renew_release(db):
    ttl = timedelta(minutes=5)
    assert await leases.claim("x", "a", ttl) and not await leases.claim("x", "b", ttl)
    assert await leases.claim("x", "a", ttl)  # the holder may claim again
    assert await leases.renew("x", "a", ttl) and not await leases.renew("x", "b", ttl)
    await leases.release("x", "b")  # not theirs: nothing
    assert await leases.holder_of("x") == "a"
    await leases.release("x", "a")
    assert await leases.holder_of("x") is None and await leases.claim("x", "b", ttl)


def test_purge_command_dry_run_and_run(database, monkeypatch, capsys):
    from tests.conftest import run_sync
    from turnero import cli

    monkeypatch.setenv("TURNERO_DATABASE_URL", database.url)
    monkeypatch.setenv("TURNERO_RETENTION_PAUSE_MS", "0")

    async def seed():
        from turnero.core.db import close_db, init_db

        await init_db(app_settings(database_url=database.url))
        try:
            await play_day(OLD_DAYS[0], seed=6, leave_called=False)
            return await Ticket.all().count()
        finally:
            await close_db()

    tickets = run_sync(seed())
    clock.reset()  # the command reads the real clock: 2025-06-10 is more than 400 days ago
    assert tickets
    cli.main(["purge", "--dry-run"])
    out = capsys.readouterr().out
    assert "nada cambió" in out and f"tickets                {tickets}" in out
    cli.main(["purge", "--batch", "4"])
    out = capsys.readouterr().out
    assert "done" in out and f"tickets                {tickets}" in out

    async def after():
        from turnero.core.db import close_db, init_db

        await init_db(app_settings(database_url=database.url))
        try:
            entry = await AuditEntry.filter(action="retention.purge").first()
            return await Ticket.all().count(), entry.username, entry.after["counts"]["tickets"]
        finally:
            await close_db()

    assert run_sync(after()) == (0, "cli", tickets)
    with pytest.raises(SystemExit, match="al menos 31"):
        cli.main(["purge", "--days", "3"])
    monkeypatch.setenv("TURNERO_RETENTION_DAYS", "0")
    with pytest.raises(SystemExit, match="desactivada"):
        cli.main(["purge", "--dry-run"])

