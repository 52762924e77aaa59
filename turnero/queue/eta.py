"""Wait-time prediction: pure functions over plain values, no I/O.

Two parts:

* `ServiceTimeModel` — minutes a desk spends per call (called → finished, no-shows
  included: they hold the desk too), per service and office-local hour of day. Each
  level is shrunk towards the one above it (service prior → service mean → hour mean),
  so a few observations move it a little and many move it all the way; today's
  observations then scale it by how today's desks compare with history (a slow system
  day, a new operator) — shrunk by as much as the earlier days say whole days differ
  beyond their calls' scatter: where they hardly do, a morning's unlucky long calls are
  luck, not the day, and must not stretch every promise made at 09:00. Each desk keeps
  its own *pace* — its calls' minutes over what the service and hour expected, over the earlier days, shrunk to 1 — since operators
  differ (one takes 0.7 of the usual time, another 1.5) and which desks serve a line
  today (the fast ones busy with another line, a slow one back from lunch) moves it.
* `simulate` — the call-next policy played forward: every open desk, when it becomes
  free, asks the real `policy.choose_next` for the heads of its lines, exactly as
  `service.call_next` does, and is busy for the expected minutes of what it picked. The
  time a ticket is picked is its predicted call time. Multi-step visits re-enter the
  next step's line with their arrival time when a step ends (as the engine does);
  future walk-ins can be played in at their observed rate, and the day's booked citas
  at their time; and "ghost" tickets (one per
  service and lane, arriving now, taking no desk time) give the wait a new walk-in
  would have, without changing anyone else's prediction.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from turnero.queue import policy

DEFAULT_PRIOR_MINUTES = 8.0
# Weight of a prior, in observations: five tickets count as much as the prior.
PRIOR_WEIGHT = 5.0
# Today's factor is shrunk to 1 by at most this many calls, when the earlier days do not
# differ beyond their calls' scatter (below MIN_DAYS of them: by PRIOR_WEIGHT).
MAX_DAY_WEIGHT = 2000.0
MIN_DAYS = 4
# A desk's pace is shrunk to 1 by this many calls: a day's calls at a desk (~40) make it
# its own, a handful barely moves it.
PACE_WEIGHT = 20.0
# A desk whose ticket has outlasted the expected time is assumed to need this share of
# an expected service more (service times are skewed: a long one tends to go on).
OVERRUN_SHARE = 0.3
# Never play the queue further ahead than this.
HORIZON = timedelta(hours=12)
# Walk-ins still to come are played in for this long: the rate was seen over the last
# hour, and each one costs the replay work (2 per second at a peak is 7,200 an hour).
ARRIVALS_HORIZON = timedelta(hours=1)
# …and at most this many per stream: more stand behind a thousand others and change
# nobody's call (an office taking in 2 a second would otherwise cost thousands a replay).
MAX_ARRIVALS = 1000
GHOST_ID_BASE = 1 << 60


# ---------------------------------------------------------------- service times


@dataclass(frozen=True)
class Observation:
    """Finished calls of one service that started in one local hour: count and total
    minutes (each already clipped to a sane range by whoever read them)."""

    service_id: int
    hour: int
    count: int
    total_minutes: float
    today: bool = False
    desk_id: int | None = None  # None: not kept apart by desk
    day: date | None = None  # None: not kept apart by day
    total_squares: float | None = None  # sum of the calls' squared minutes, if known


@dataclass
class ServiceTimeModel:
    """Expected desk minutes per call, by service and local hour (see module doc)."""

    priors: Mapping[int, float] = field(default_factory=dict)
    hourly: dict[tuple[int, int], float] = field(default_factory=dict)
    overall: dict[int, float] = field(default_factory=dict)
    today_factor: dict[int, float] = field(default_factory=dict)
    # Per service: the calls' worth of evidence today's factor is shrunk to 1 by.
    day_weight: dict[int, float] = field(default_factory=dict)
    desk_pace: dict[int, float] = field(default_factory=dict)
    utc_offset_hours: float = 0.0

    @classmethod
    def fit(
        cls,
        observations: Iterable[Observation],
        priors: Mapping[int, float] | None = None,
        *,
        utc_offset_hours: float = 0.0,
        prior_weight: float = PRIOR_WEIGHT,
    ) -> "ServiceTimeModel":
        priors = dict(priors or {})
        history: dict[int, list[Observation]] = {}
        today: dict[int, list[Observation]] = {}
        for ob in observations:
            if ob.count <= 0:
                continue
            (today if ob.today else history).setdefault(ob.service_id, []).append(ob)
        model = cls(priors=priors, utc_offset_hours=utc_offset_hours)
        for service_id in set(history) | set(today):
            prior = priors.get(service_id, DEFAULT_PRIOR_MINUTES)
            past = history.get(service_id, [])
            n = sum(o.count for o in past)
            level = (prior_weight * prior + sum(o.total_minutes for o in past)) / (prior_weight + n)
            model.overall[service_id] = level
            by_hour: dict[int, list[float]] = {}
            for o in past:
                acc = by_hour.setdefault(o.hour % 24, [0, 0.0])
                acc[0] += o.count
                acc[1] += o.total_minutes
            total_all = sum(o.total_minutes for o in past)
            for hour, (count, total) in by_hour.items():
                # Shrunk towards the other hours' level (not counting its own calls twice).
                others = (prior_weight * prior + total_all - total) / (prior_weight + n - count)
                model.hourly[(service_id, hour)] = (prior_weight * others + total) / (prior_weight + count)
        model.desk_pace = _desk_paces(model, [o for obs in history.values() for o in obs])
        for service_id, recent in today.items():
            # Observed minutes over what history expected (hour and desk), shrunk to 1.
            weight = model.day_weight[service_id] = _day_weight(model, history.get(service_id, []), prior_weight)
            ratio_sum = sum(o.total_minutes / model._expected(o) for o in recent)
            count = sum(o.count for o in recent)
            model.today_factor[service_id] = (weight + ratio_sum) / (weight + count)
        return model

    def _expected(self, o: Observation) -> float:
        """Minutes a call of the observation's service, hour and desk was expected to take."""
        return self._base(o.service_id, o.hour) * self.pace(o.desk_id)

    def pace(self, desk_id: int | None) -> float:
        return self.desk_pace.get(desk_id, 1.0) if desk_id is not None else 1.0

    def _base(self, service_id: int, hour: int) -> float:
        hourly = self.hourly.get((service_id, hour % 24))
        if hourly is not None:
            return hourly
        return self.overall.get(service_id, self.priors.get(service_id, DEFAULT_PRIOR_MINUTES))

    def minutes_at_hour(self, service_id: int, hour: int) -> float:
        return self._base(service_id, hour) * self.today_factor.get(service_id, 1.0)

    def minutes(self, service_id: int, at: datetime, desk_id: int | None = None) -> float:
        """Expected desk minutes for a call of `service_id` starting at `at` (UTC), at
        desk `desk_id`'s pace (None: the service's average desk)."""
        hour = int((at.hour + at.minute / 60 + self.utc_offset_hours) // 1) % 24
        return self.minutes_at_hour(service_id, hour) * self.pace(desk_id)


def _day_weight(model: ServiceTimeModel, past: list[Observation], floor: float) -> float:
    """How many calls' worth of evidence today's factor is shrunk to 1 by, from how the
    earlier days of one service differ: each call's minutes over what its hour and desk
    expected scatter with variance s² within a day (a heavy tail: s is 0.7 or more), and
    whole days' means around each other with τ² beyond that scatter (the one-way random
    effects estimate); today's mean of n calls then deserves weight n against s²/τ². With
    fewer than MIN_DAYS days, or without the squares, `floor`."""
    days: dict[date, list[float]] = {}  # day -> [calls, sum of ratios, sum of squared ratios]
    for o in past:
        if o.day is None or o.total_squares is None:
            return floor
        scale = model._expected(o)
        acc = days.setdefault(o.day, [0.0, 0.0, 0.0])
        acc[0] += o.count
        acc[1] += o.total_minutes / scale
        acc[2] += o.total_squares / scale ** 2
    calls = sum(n for n, _x, _q in days.values())
    if len(days) < MIN_DAYS or calls <= len(days):
        return floor
    within = sum(q - x * x / n for n, x, q in days.values()) / (calls - len(days))
    mean = sum(x for _n, x, _q in days.values()) / calls
    between = sum(n * (x / n - mean) ** 2 for n, x, _q in days.values())
    spread = calls - sum(n * n for n, _x, _q in days.values()) / calls  # > 0: at least MIN_DAYS days
    day_variance = (between - (len(days) - 1) * within) / spread
    if day_variance <= 0:
        return MAX_DAY_WEIGHT
    return min(MAX_DAY_WEIGHT, max(floor, within / day_variance))


def _desk_paces(model: ServiceTimeModel, history: list[Observation]) -> dict[int, float]:
    """Per desk: its calls' minutes over what their service and hour expected, shrunk
    to 1 by PACE_WEIGHT calls. The service levels average over the desks that served
    them, so the paces average about 1 over the calls."""
    sums: dict[int, list[float]] = {}
    for o in history:
        if o.desk_id is not None:
            acc = sums.setdefault(o.desk_id, [0.0, 0.0])
            acc[0] += o.total_minutes / model._base(o.service_id, o.hour)
            acc[1] += o.count
    return {desk_id: (PACE_WEIGHT + ratio) / (PACE_WEIGHT + count) for desk_id, (ratio, count) in sums.items()}


# ---------------------------------------------------------------- the queue played forward


@dataclass(frozen=True)
class WaitingTicket:
    ticket_id: int
    lane: str
    service_id: int
    arrived_at: datetime
    due_at: datetime | None = None
    party_size: int = 1
    # Services of the visit's steps still to come after this one, in order, and the
    # lane those steps queue in (an appointment's later steps queue by priority).
    next_steps: tuple[int, ...] = ()
    next_lane: str | None = None


@dataclass(frozen=True)
class DeskState:
    desk_id: int
    weights: Mapping[int, int]  # service id -> tier (1 = primary)
    preferential_streak: int = 0
    # The ticket at the desk now, if any (when it was called, and its later steps).
    busy: WaitingTicket | None = None
    busy_since: datetime | None = None
    # A desk not open yet: when it is expected to start calling (staffing.py).
    available_at: datetime | None = None
    # Pauses it is expected to take (start, length), earliest first (staffing.py): it
    # takes each once free from its call under way, or at its start when idle.
    pauses: tuple[tuple[datetime, timedelta], ...] = ()


@dataclass(frozen=True)
class ArrivalStream:
    """New visits expected to keep arriving (per minute) at a service's line."""

    service_id: int
    lane: str
    per_minute: float
    next_steps: tuple[int, ...] = ()


@dataclass
class Prediction:
    """Predicted call time per waiting ticket id, and per (service, lane) for a new
    walk-in arriving now (ghosts). None: not reached within the horizon."""

    now: datetime
    calls: dict[int, datetime | None]
    walk_in: dict[tuple[int, str], datetime | None]
    # Desk minutes the simulation spent per service (for capacity shares).
    desk_minutes: dict[int, float]

    def wait_minutes(self, ticket_id: int) -> int | None:
        return _minutes(self.now, self.calls.get(ticket_id))

    def walk_in_minutes(self, service_id: int, lane: str = policy.REGULAR) -> int | None:
        return _minutes(self.now, self.walk_in.get((service_id, lane)))


def _minutes(now: datetime, at: datetime | None) -> int | None:
    if at is None:
        return None
    return max(0, round((at - now).total_seconds() / 60))


@dataclass(order=True)
class _Entry:
    key: tuple
    ticket: WaitingTicket = field(compare=False)
    ghost: bool = field(default=False, compare=False)


def line_key(t: WaitingTicket) -> tuple:
    # The engine's heads: due appointments by due time, other lines by arrival.
    if t.lane == policy.APPOINTMENT:
        return (t.due_at, t.arrived_at, t.ticket_id)
    return (t.arrived_at, t.ticket_id)


def next_hop(t: WaitingTicket, ticket_id: int) -> WaitingTicket:
    """The visit's next step, as service._enqueue_next_hop writes it: same arrival
    time (it keeps its place), an appointment continuing in its priority's lane."""
    lane = t.next_lane or (t.lane if t.lane != policy.APPOINTMENT else policy.REGULAR)
    return WaitingTicket(
        ticket_id, lane, t.next_steps[0], t.arrived_at, None, t.party_size, t.next_steps[1:], lane
    )


class _Simulation:
    def __init__(self, times: ServiceTimeModel, config: policy.PolicyConfig, now: datetime):
        self.times, self.config, self.now = times, config, now
        self.lines: dict[tuple[int, str], list[_Entry]] = {}
        self.pending: list[tuple[datetime, int, object]] = []  # future line entries
        self.heap: list[tuple[datetime, int, int]] = []  # (free at, order, desk index)
        self.idle: set[int] = set()  # desks with nothing to call and nothing coming
        self.serves: list[Mapping[int, int]] = []  # per desk index: the services it serves
        self.pending_at: dict[int, list[datetime]] = {}  # per service: when its entries come
        self.arrivals_end = now + ARRIVALS_HORIZON
        self.arrived: dict[int, int] = {}  # per stream (id): walk-ins played in so far
        self.seq = 0
        self.next_id = GHOST_ID_BASE * 2  # ids for played-in hops and arrivals
        self.desk_minutes: dict[int, float] = {}

    def add(self, ticket: WaitingTicket, ghost: bool = False) -> None:
        # Each line is a heap: its head is line[0], as call-next's is the line's first row.
        heapq.heappush(self.lines.setdefault((ticket.service_id, ticket.lane), []), _Entry(line_key(ticket), ticket, ghost))

    def later(self, at: datetime, item) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (at, self.seq, item))
        heapq.heappush(self.pending_at.setdefault(item.service_id, []), at)
        # Something is coming: idle desks that serve it look again then (only those: an
        # office's other desks would wake for nothing, once per arrival).
        for i in [i for i in self.idle if item.service_id in self.serves[i]]:
            heapq.heappush(self.heap, (at, i, i))
            self.idle.discard(i)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def busy_for(self, ticket: WaitingTicket, start: datetime, desk_id: int | None) -> datetime:
        minutes = self.times.minutes(ticket.service_id, start, desk_id) * max(1, ticket.party_size)
        self.desk_minutes[ticket.service_id] = self.desk_minutes.get(ticket.service_id, 0.0) + minutes
        return start + timedelta(minutes=minutes)

    def flush(self, until: datetime) -> None:
        while self.pending and self.pending[0][0] <= until:
            at, _seq, item = heapq.heappop(self.pending)
            heapq.heappop(self.pending_at[item.service_id])
            if isinstance(item, ArrivalStream):
                self.add(WaitingTicket(self.new_id(), item.lane, item.service_id, at, None, 1,
                                       item.next_steps, item.lane))
                following = at + timedelta(minutes=1 / item.per_minute)
                played = self.arrived[id(item)] = self.arrived.get(id(item), 0) + 1
                if following <= self.arrivals_end and played < MAX_ARRIVALS:
                    self.later(following, item)
            else:
                self.add(item)

    def heads(self, weights: Mapping[int, int]) -> list[_Entry]:
        heads = []
        for service_id in weights:
            for lane in (policy.APPOINTMENT, policy.PREFERENTIAL, policy.REGULAR):
                line = self.lines.get((service_id, lane))
                if line:
                    heads.append(line[0])
        return heads

    def wake_time(self, weights: Mapping[int, int], at: datetime) -> datetime | None:
        """When a desk that found nothing to call should look again: the next entry
        to arrive in one of its lines, or an appointment of its services falling due;
        None: never (unless `later` brings something for it)."""
        wake = [self.pending_at[s][0] for s in weights if self.pending_at.get(s)]
        for service_id in weights:
            line = self.lines.get((service_id, policy.APPOINTMENT))
            if line and line[0].ticket.due_at and line[0].ticket.due_at > at:
                wake.append(line[0].ticket.due_at)
        return max(min(wake), at + timedelta(seconds=1)) if wake else None


def back_from_pauses(pauses: list[tuple[datetime, timedelta]], free_since: datetime, at: datetime) -> datetime:
    """When a desk, free since `free_since` and looking for work at `at`, can call: past
    the planned pauses due by `at` (each begun once the desk was free, at its start at the
    earliest). Pauses taken are removed from `pauses`."""
    while pauses and pauses[0][0] <= at:
        start, length = pauses.pop(0)
        back = max(start, free_since) + length
        if back > at:
            return back
    return at


def simulate(
    waiting: Sequence[WaitingTicket],
    desks: Sequence[DeskState],
    times: ServiceTimeModel,
    *,
    now: datetime,
    config: policy.PolicyConfig,
    ghosts: Iterable[tuple[int, str]] = (),
    arrivals: Sequence[ArrivalStream] = (),
    coming: Sequence[WaitingTicket] = (),
    assume_desk_for: Iterable[int] = (),
    horizon: timedelta = HORIZON,
) -> Prediction:
    """Play the office's queue forward from `now` (see module doc).

    `coming`: tickets known to join their line later (today's booked citas), each at
    its `arrived_at`; like the walk-ins to come, they take desk time and get no
    prediction of their own. `assume_desk_for`: services that get a desk of their own when no open desk serves
    them and someone (or a ghost) waits for them ("a desk will open")."""
    sim = _Simulation(times, config, now)
    calls: dict[int, datetime | None] = {t.ticket_id: None for t in waiting}
    walk_in: dict[tuple[int, str], datetime | None] = {}
    for t in waiting:
        sim.add(t)
    for n, (service_id, lane) in enumerate(sorted(set(ghosts))):
        walk_in[(service_id, lane)] = None
        sim.add(WaitingTicket(GHOST_ID_BASE + n, lane, service_id, now), ghost=True)

    desk_list = list(desks)
    served = {s for d in desk_list for s in d.weights}
    queued = {s for (s, _lane) in sim.lines}
    for service_id in sorted((set(assume_desk_for) & queued) - served):
        desk_list.append(DeskState(-service_id, {service_id: 1}))
        served.add(service_id)
    streaks = [d.preferential_streak for d in desk_list]
    pauses = [sorted(d.pauses) for d in desk_list]
    free_since: list[datetime] = []
    sim.serves = [d.weights for d in desk_list]
    for i, d in enumerate(desk_list):
        free_at = max(now, d.available_at) if d.available_at is not None else now
        if d.busy is not None and d.busy_since is not None:
            done = sim.busy_for(d.busy, d.busy_since, d.desk_id)
            overrun = (done - d.busy_since) * OVERRUN_SHARE
            free_at = max(done, now + overrun)
            if d.busy.next_steps:
                sim.later(free_at, next_hop(d.busy, sim.new_id()))
        free_since.append(free_at)
        heapq.heappush(sim.heap, (free_at, i, i))
    for stream in arrivals:
        if stream.per_minute > 0:
            sim.later(now + timedelta(minutes=0.5 / stream.per_minute), stream)
    for t in coming:
        sim.later(max(now, t.arrived_at), t)

    # Stop once every reachable ticket and ghost has its time (unreachable ones: None).
    open_real = sum(1 for t in waiting if t.service_id in served)
    open_ghosts = sum(1 for (s, _lane) in walk_in if s in served)
    end = now + horizon
    while sim.heap and (open_real or open_ghosts):
        free_at, order, i = heapq.heappop(sim.heap)
        if free_at > end:
            break
        back = back_from_pauses(pauses[i], free_since[i], free_at)
        if back > free_at:
            free_since[i] = back
            heapq.heappush(sim.heap, (back, order, i))
            continue
        sim.flush(free_at)
        desk = desk_list[i]
        while True:
            heads = sim.heads(desk.weights)
            decision = policy.choose_next(
                [policy.Candidate(e.ticket.ticket_id, e.ticket.lane, e.ticket.service_id,
                                  e.ticket.arrived_at, e.ticket.due_at) for e in heads],
                now=free_at, weights=desk.weights, preferential_streak=streaks[i], config=config,
            )
            if decision is None:
                wake = sim.wake_time(desk.weights, free_at)
                if wake is None:
                    sim.idle.add(i)
                else:
                    heapq.heappush(sim.heap, (wake, order, i))
                break
            entry = next(e for e in heads if e.ticket.ticket_id == decision.candidate.ticket_id)
            t = entry.ticket
            heapq.heappop(sim.lines[(t.service_id, t.lane)])
            if entry.ghost:
                # A ghost takes no desk time and leaves the desk's streak as it was,
                # so every real prediction is what it would be without it.
                walk_in[(t.service_id, t.lane)] = free_at
                open_ghosts -= 1
                continue
            streaks[i] = decision.preferential_streak
            if t.ticket_id in calls and calls[t.ticket_id] is None:
                calls[t.ticket_id] = free_at
                open_real -= 1
            done_at = sim.busy_for(t, free_at, desk.desk_id)
            if t.next_steps:
                sim.later(done_at, next_hop(t, sim.new_id()))
            free_since[i] = done_at
            heapq.heappush(sim.heap, (done_at, order, i))
            break
    return Prediction(now, calls, walk_in, sim.desk_minutes)
