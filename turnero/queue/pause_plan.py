"""The office's roster of planned pauses: each desk's refrigerio and almuerzo of a day.

A supervisor plans the day's pauses (the evening before, or during the day for what is
left of it), and the wait estimate plays them (staffing.expected_pauses): a line is told
beforehand that one of its two desks leaves for its refrigerio at 10:15, instead of
learning it once the desk has gone. Breaks taken at any time of a long morning make no
habit the estimate could learn, and at a line with few desks their timing moves every
wait by many minutes.

A day's plan is written whole (`replace_plan`), as a roster is made and read: a table,
one row per pause. A roster repeats by the week, so a saved day's plan can be repeated on
many days at once (`repeat_plan`: all of them or none, in one transaction). `check_plan`
is the pure rule on what a plan may hold; the statements around it read and write the
`planned_pause` rows, with an audit record per day written in the same transaction.

A plan helps only if it is kept, so each desk's console lists its pauses of the day and
reminds its operator (`reminder`, pure): a planned pause is coming, is due now, or has
run its planned length — on the same terms the estimate plays it (a pause begun within
staffing.HABIT_SPREAD of its planned start is that pause; one not begun by then is no
longer expected, and no longer reminded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.audit import audit
from turnero.core.auth import Principal
from turnero.core.db import db_datetime
from turnero.core.errors import ApiError, invalid
from turnero.core.models import Office
from turnero.queue.models import Desk, DeskEvent, PlannedPause
from turnero.queue import waiting
from turnero.queue.staffing import HABIT_SPREAD, pause_taken, spans_for

KINDS = ("refrigerio", "almuerzo", "otra")
MAX_MINUTES = 180
MAX_PAUSES_PER_DESK = 6
# How far ahead a plan may be written (a roster for the coming weeks, not the year).
MAX_DAYS_AHEAD = 62
# How many days one repeat of a day's plan writes at most (a month of a roster).
MAX_REPEAT_DAYS = 31
# The console tells its operator this long before a planned pause begins.
REMIND_BEFORE = timedelta(minutes=5)
# The estimate's window for a planned pause (staffing.expected_pauses): begun within it
# of its planned start, it is that pause; not begun by its end, it is skipped today.
TAKEN_WITHIN = timedelta(minutes=HABIT_SPREAD)


@dataclass(frozen=True)
class Pause:
    """One planned pause: desk name, local start, length in minutes, kind."""

    desk: str
    start: time
    minutes: int
    kind: str = "refrigerio"

    def ends(self) -> time:
        end = datetime.combine(date.min, self.start) + timedelta(minutes=self.minutes)
        return end.time() if end.date() == date.min else time(23, 59)


def check_plan(pauses: Sequence[Pause], desk_names: Iterable[str],
               spans: Sequence[tuple[time, time]]) -> list[Pause]:
    """The plan sorted by desk and start, or 422 naming the first fault: a desk the
    office does not have, a pause outside the day's opening hours (`spans`; none: the
    whole day), two pauses of a desk that overlap, too many for one desk."""
    names = set(desk_names)
    for p in pauses:
        if p.desk not in names:
            raise invalid(f"La oficina no tiene la ventanilla {p.desk!r}.", code="desk_not_found", desk=p.desk)
        if not 1 <= p.minutes <= MAX_MINUTES:
            raise invalid(f"Una pausa dura de 1 a {MAX_MINUTES} minutos.", code="invalid_pause", desk=p.desk)
        if p.kind not in KINDS:
            raise invalid(f"El tipo de pausa es uno de: {', '.join(KINDS)}.", code="invalid_pause", desk=p.desk)
        if spans and not any(start <= p.start < end for start, end in spans):
            raise invalid(f"La pausa de {p.desk} a las {p.start:%H:%M} cae fuera del horario de atención.",
                          code="pause_outside_hours", desk=p.desk)
    ordered = sorted(pauses, key=lambda p: (p.desk, p.start))
    for a, b in zip(ordered, ordered[1:]):
        if a.desk == b.desk and b.start < a.ends():
            raise invalid(f"Las pausas de {a.desk} de las {a.start:%H:%M} y de las {b.start:%H:%M} se superponen.",
                          code="overlapping_pauses", desk=a.desk)
    counts: dict[str, int] = {}
    for p in ordered:
        counts[p.desk] = counts.get(p.desk, 0) + 1
        if counts[p.desk] > MAX_PAUSES_PER_DESK:
            raise invalid(f"Como máximo {MAX_PAUSES_PER_DESK} pausas por ventanilla y día.",
                          code="invalid_pause", desk=p.desk)
    return ordered


def _row_view(row: Mapping, zone: ZoneInfo) -> dict:
    start = db_datetime(row["starts_at"]).astimezone(zone)
    end = start + timedelta(minutes=row["minutes"])
    return {"desk": row["desk__name"], "start": f"{start:%H:%M}", "ends": f"{end:%H:%M}",
            "minutes": row["minutes"], "kind": row["kind"]}


async def _rows(office: Office, day: date, desk: str | None = None) -> list[dict]:
    rows = PlannedPause.filter(desk__office_id=office.id, day=day)
    if desk is not None:
        rows = rows.filter(desk__name=desk)
    return await rows.order_by("desk__name", "starts_at").values("id", "desk__name", "starts_at", "minutes", "kind")


async def plan_view(office: Office, day: date) -> dict:
    """The day's plan: {"office", "day", "pauses": [{desk, start, ends, minutes, kind}]},
    by desk and start; times local (HH:MM)."""
    zone = ZoneInfo(office.timezone)
    return {"office": office.code, "day": day.isoformat(),
            "pauses": [_row_view(r, zone) for r in await _rows(office, day)]}


@dataclass(frozen=True)
class Planned:
    """A planned pause of one desk: aware start, minutes, kind."""

    start: datetime
    minutes: int
    kind: str

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    def times(self, zone: ZoneInfo) -> str:
        """«10:00–10:15», local."""
        return f"{self.start.astimezone(zone):%H:%M}–{self.end.astimezone(zone):%H:%M}"

    def label(self, zone: ZoneInfo) -> str:
        """«refrigerio 10:00–10:15», local."""
        return f"{self.kind} {self.times(zone)}"


# A pause taken: when it began, and when it ended (None while it lasts).
Taken = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class Reminder:
    """What the console tells its operator about the plan now: `kind` is "soon" (a
    planned pause begins within REMIND_BEFORE), "due" (it has begun and the desk is
    still open), "away" (the desk is on it: back at `back`) or "over" (on it longer
    than planned)."""

    kind: str
    text: str
    back: datetime | None = None


def reminder(planned: Sequence[Planned], *, status: str, paused_at: Sequence[datetime], now: datetime,
             tz: str) -> Reminder | None:
    """The reminder for a desk with `planned` pauses today, `status` now (open / paused
    / closed) and its pauses begun today at `paused_at` (aware, earliest first), or None.
    A planned pause counts as taken when it was `kept` (a pause began within TAKEN_WITHIN
    of its start, each pause counting once, as on the supervisor's page), and a paused
    desk is on the planned pause staffing.pause_taken names and expected back its
    planned length after it began: the estimate's rules."""
    zone = ZoneInfo(tz)
    if status == "paused" and paused_at:
        began = paused_at[-1]
        taking = pause_taken([p.start for p in planned], began)
        if taking is None:
            return None  # a pause the plan does not hold
        p = planned[taking]
        back = began + timedelta(minutes=p.minutes)
        if now < back:
            return Reminder("away", f"En su {p.kind} planificado: la espera estimada cuenta con que la ventanilla"
                                    f" vuelva a las {back.astimezone(zone):%H:%M}.", back)
        return Reminder("over", f"El {p.kind} planificado era de {p.minutes} min y ya pasó: reanude la"
                                f" ventanilla al volver.", back)
    if status != "open":
        return None
    taken = {k.planned for k in kept(planned, [(at, None) for at in paused_at]) if k.began is not None}
    for p in sorted(planned, key=lambda p: p.start):
        if p in taken:
            continue  # taken already
        if p.start <= now <= p.start + TAKEN_WITHIN:
            return Reminder("due", f"Es hora de su {p.kind} ({p.times(zone)}): ponga la ventanilla en pausa al"
                                   f" quedar libre.")
        if p.start - REMIND_BEFORE <= now < p.start:
            left = max(1, round((p.start - now).total_seconds() / 60))
            return Reminder("soon", f"Su {p.kind} ({p.times(zone)}) empieza en {left} min.")
    return None


@dataclass(frozen=True)
class Kept:
    """How a planned pause was kept: the pause taken for it (`began`, and `ended`: None
    while it lasts), or none."""

    planned: Planned
    began: datetime | None = None
    ended: datetime | None = None


def kept(planned: Sequence[Planned], taken: Sequence[Taken]) -> list[Kept]:
    """Each planned pause (by start) with the pause taken for it: of the desk's pauses
    `taken` that day, the one begun nearest its start within TAKEN_WITHIN — the
    estimate's rule — each pause taken counting once."""
    free = sorted(taken, key=lambda t: t[0])
    out = []
    for p in sorted(planned, key=lambda p: p.start):
        near = [t for t in free if abs(t[0] - p.start) <= TAKEN_WITHIN]
        if not near:
            out.append(Kept(p))
            continue
        began, ended = min(near, key=lambda t: abs(t[0] - p.start))
        free.remove((began, ended))
        out.append(Kept(p, began, ended))
    return out


def kept_text(k: Kept, now: datetime, tz: str) -> str:
    """One line of the supervisor's page: «refrigerio 10:00–10:15: de 10:04 a 10:22 (4 min
    tarde; 18 de 15 min)», «… en curso desde 10:04», «… pendiente», «… no se tomó»."""
    zone = ZoneInfo(tz)
    p = k.planned
    head = f"{p.kind} {p.times(zone)}: "
    if k.began is None:
        return head + ("pendiente" if now <= p.start + TAKEN_WITHIN else "no se tomó")
    if k.ended is None:
        return head + f"en curso desde {k.began.astimezone(zone):%H:%M}"
    off = round((k.began - p.start).total_seconds() / 60)
    when = "a tiempo" if off == 0 else (f"{off} min tarde" if off > 0 else f"{-off} min antes")
    minutes = round((k.ended - k.began).total_seconds() / 60)
    return head + (f"de {k.began.astimezone(zone):%H:%M} a {k.ended.astimezone(zone):%H:%M}"
                   f" ({when}; {minutes} de {p.minutes} min)")


def next_pause(planned: Sequence[Planned], now: datetime) -> Planned | None:
    """A desk's next planned pause not over yet, or None."""
    return next((p for p in sorted(planned, key=lambda p: p.start) if p.end > now), None)


def _planned_by_desk(rows: Iterable[Mapping]) -> dict[str, list[Planned]]:
    """`_rows`' rows as Planned, by desk name, earliest first."""
    out: dict[str, list[Planned]] = {}
    for r in rows:
        out.setdefault(r["desk__name"], []).append(Planned(db_datetime(r["starts_at"]), r["minutes"], r["kind"]))
    return out


async def _taken(office: Office, day: date, until: datetime, desk_id: int | None = None) -> dict[str, list[Taken]]:
    """The pauses the office's desks (or one) took on `day` up to `until`, by desk name,
    from the desk_event trail: each begun by a pause, ended by the desk's next opening
    or closing (None: it lasts)."""
    zone = ZoneInfo(office.timezone)
    events = DeskEvent.filter(desk__office_id=office.id, kind__in=("open", "paused", "closed"),
                              # In UTC, as stored: SQLite compares the ISO text, offset and all.
                              at__gte=clock.day_start(day, zone).astimezone(timezone.utc),
                              at__lt=clock.day_start(day + timedelta(days=1), zone).astimezone(timezone.utc),
                              at__lte=until.astimezone(timezone.utc))
    if desk_id is not None:
        events = events.filter(desk_id=desk_id)
    taken: dict[str, list[Taken]] = {}
    for e in await events.order_by("at", "id").values("desk__name", "kind", "at"):
        pauses = taken.setdefault(e["desk__name"], [])
        at = db_datetime(e["at"])
        if e["kind"] == "paused":
            if not pauses or pauses[-1][1] is not None:
                pauses.append((at, None))
        elif pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], at)
    return taken


async def kept_view(office: Office, day: date) -> dict[str, list[str]]:
    """Per desk name, how `day`'s planned pauses were kept so far (kept_text, by start).
    Empty for a day ahead or without a plan."""
    now = clock.now()
    if day > clock.local_day(now, office.timezone):
        return {}
    planned = _planned_by_desk(await _rows(office, day))
    taken = await _taken(office, day, now) if planned else {}
    return {desk: [kept_text(k, now, office.timezone) for k in kept(pauses, taken.get(desk, []))]
            for desk, pauses in planned.items()}


async def next_pauses(office: Office) -> dict[str, Planned]:
    """Per desk name, its next planned pause today not over yet and not taken already
    (kept: one the desk went on and came back from): what the supervisor's balancing page
    shows beside each desk, and weighs in its moves."""
    now = clock.now()
    today = clock.local_day(now, office.timezone)
    planned = _planned_by_desk(await _rows(office, today))
    taken = await _taken(office, today, now) if planned else {}
    out = {}
    for desk, pauses in planned.items():
        done = {k.planned for k in kept(pauses, taken.get(desk, [])) if k.ended is not None}
        if coming := next_pause([p for p in pauses if p not in done], now):
            out[desk] = coming
    return out


async def desk_today(office: Office, desk: Desk, status: str) -> dict:
    """One desk's plan for its console now: {"pauses": [{desk, start, ends, minutes,
    kind}], "reminder": {kind, text} | None} — its planned pauses of today and what
    `reminder` says of them, with the pauses it began today."""
    now = clock.now()
    today = clock.local_day(now, office.timezone)
    rows = await _rows(office, today, desk.name)
    said = None
    if rows:
        began = [b for b, _ended in (await _taken(office, today, now, desk.id)).get(desk.name, [])]
        said = reminder(_planned_by_desk(rows)[desk.name], status=status, paused_at=began, now=now,
                        tz=office.timezone)
    return {"pauses": [_row_view(r, ZoneInfo(office.timezone)) for r in rows],
            "reminder": {"kind": said.kind, "text": said.text} if said else None}


def _check_day(day: date, today: date) -> None:
    """422 for a day whose plan may not be written: gone by, or too far ahead."""
    if day < today:
        raise invalid(f"No se puede planificar un día pasado ({day.isoformat()}).", code="day_past",
                      day=day.isoformat())
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise invalid(f"Se planifica como máximo {MAX_DAYS_AHEAD} días adelante ({day.isoformat()}).",
                      code="day_too_far", day=day.isoformat())


async def _desk_ids(office: Office) -> dict[str, int]:
    return dict(await Desk.filter(office_id=office.id).values_list("name", "id"))


async def _lock_plans(office: Office) -> None:
    """One writer of an office's plans at a time (PostgreSQL: the office row's lock;
    SQLite writes one transaction at a time): two plans written at once would otherwise
    both delete the old rows and both insert theirs. Call it inside the transaction."""
    await Office.filter(id=office.id).select_for_update().get()


async def _write_day(office: Office, day: date, ordered: Sequence[Pause], desks: Mapping[str, int],
                     actor: Principal) -> dict:
    """Replace `day`'s rows by the checked plan `ordered`, with the audit record of the
    plan before and after; inside the caller's transaction, under `_lock_plans`."""
    zone = ZoneInfo(office.timezone)
    before = [_row_view(r, zone) for r in await _rows(office, day)]
    await PlannedPause.filter(desk_id__in=list(desks.values()), day=day).delete()
    await PlannedPause.bulk_create([
        PlannedPause(desk_id=desks[p.desk], day=day, minutes=p.minutes, kind=p.kind,
                     starts_at=datetime.combine(day, p.start, tzinfo=zone).astimezone(timezone.utc))
        for p in ordered])
    view = await plan_view(office, day)
    await audit(actor, "pause_plan.replace", f"{office.code}/{day.isoformat()}", office.id,
                {"pauses": before}, {"pauses": view["pauses"]})
    return view


def _after_commit(office: Office, days: Iterable[date], today: date) -> None:
    """After commit: a plan written for today is played by this instance's next estimate at once."""
    if today in days:
        waiting.desks_changed(office.id)


async def replace_plan(office: Office, day: date, pauses: Sequence[Pause], actor: Principal) -> dict:
    """Write `day`'s plan whole (an empty list clears it), with its audit record; 422 for
    a day gone by or too far ahead, or a plan `check_plan` refuses."""
    today = clock.local_day(clock.now(), office.timezone)
    _check_day(day, today)
    desks = await _desk_ids(office)
    ordered = check_plan(pauses, desks, spans_for(office.opening_hours, day))
    async with in_transaction():
        await _lock_plans(office)
        view = await _write_day(office, day, ordered, desks, actor)
    _after_commit(office, [day], today)
    return view


def _check_days(source: date, days: Sequence[date], today: date) -> list[date]:
    """The target days sorted, or 422: none, more than MAX_REPEAT_DAYS, repeated or the
    source among them (`invalid_days`), one gone by or too far ahead."""
    if not 1 <= len(days) <= MAX_REPEAT_DAYS:
        raise invalid(f"Un plan se repite en 1 a {MAX_REPEAT_DAYS} días a la vez; se indicaron {len(days)}.",
                      code="invalid_days")
    if len(set(days)) != len(days) or source in days:
        raise invalid("Cada día se indica una sola vez, y no el día cuyo plan se repite.", code="invalid_days")
    for day in sorted(days):
        _check_day(day, today)
    return sorted(days)


def _check_on(day: date, pauses: Sequence[Pause], desks: Iterable[str], office: Office) -> list[Pause]:
    """check_plan against `day`'s opening hours, its refusal naming the day."""
    try:
        return check_plan(pauses, desks, spans_for(office.opening_hours, day))
    except ApiError as error:
        raise invalid(f"El {day.isoformat()}: {error.message}", code=error.code, day=day.isoformat(),
                      **error.extra) from None


async def _saved_pauses(office: Office, day: date) -> list[Pause]:
    zone = ZoneInfo(office.timezone)
    return [Pause(r["desk__name"], db_datetime(r["starts_at"]).astimezone(zone).time(), r["minutes"], r["kind"])
            for r in await _rows(office, day)]


async def repeat_plan(office: Office, source_day: date, days: Sequence[date], actor: Principal) -> dict:
    """Copy `source_day`'s saved plan onto each of `days` (each replaced whole), all in
    one transaction, one audit record per day → {"office", "from", "days", "pauses": the
    plan each day now holds}. 422, nothing written: `_check_days`'s refusals,
    `nothing_to_copy` (the source has no pauses), or a day whose hours do not hold the
    plan (check_plan, the day named). The source may be a past day."""
    today = clock.local_day(clock.now(), office.timezone)
    targets = _check_days(source_day, days, today)
    desks = await _desk_ids(office)
    async with in_transaction():
        await _lock_plans(office)
        pauses = await _saved_pauses(office, source_day)
        if not pauses:
            raise invalid(f"El {source_day.isoformat()} no tiene pausas planificadas: no hay nada que repetir.",
                          code="nothing_to_copy")
        plans = {day: _check_on(day, pauses, desks, office) for day in targets}
        views = [await _write_day(office, day, plan, desks, actor) for day, plan in plans.items()]
    _after_commit(office, targets, today)
    return {"office": office.code, "from": source_day.isoformat(), "days": [d.isoformat() for d in targets],
            "pauses": views[0]["pauses"]}
