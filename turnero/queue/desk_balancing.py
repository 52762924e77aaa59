"""Desk balancing: per service the queue, open desks and predicted wait (the office's
one estimate, eta_service), the desk moves suggested (balancing.py, pure), a move
applied by a supervisor, and the server's automatic moves above a threshold."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from turnero.core.audit import audit
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.errors import conflict
from turnero.core.models import Office, Service
from turnero.core.service import offered_service
from turnero.queue import balancing, eta_service, pause_plan, policy, waiting
from turnero.queue.desks import get_desk
from turnero.queue.events import publish_queue_changed
from turnero.queue.models import Desk, DeskEvent, DeskService, DeskStatus

log = logging.getLogger("turnero.eta")


async def balancing_view(
    office: Office, config: policy.PolicyConfig, *, threshold_minutes: int = balancing.DEFAULT_THRESHOLD_MINUTES
) -> dict:
    """Per service: queue, open desks and predicted wait; suggested desk moves; and the
    desks, each with its next planned pause today (pause_plan.next_pauses)."""
    estimate = await eta_service.current_estimate(office, config)
    lines_now = await waiting.office_lines(office.id)
    services = estimate.services(lines_now)
    queues = [
        balancing.ServiceQueue(s.code, s.waiting, s.wait_minutes, s.primary_desks, s.service_minutes)
        for s in services.values()
    ]
    # Each desk's next planned pause today: a desk about to leave is a poor one to move.
    coming = await pause_plan.next_pauses(office)
    zone, now = ZoneInfo(office.timezone), clock.now()
    labels = {desk: pause.label(zone) for desk, pause in coming.items()}
    open_desks = [
        balancing.DeskAssignment(d["name"], d["services"], pause_in_minutes=(
            (coming[d["name"]].start - now).total_seconds() / 60 if d["name"] in coming else None),
            pause=labels.get(d["name"]))
        for d in estimate.desks if d["status"] == DeskStatus.OPEN.value
    ]
    moves = balancing.suggest_moves(queues, open_desks, threshold_minutes=threshold_minutes)
    desks = [{**d, "next_pause": labels.get(d["name"])} for d in estimate.desks]
    return {**estimate.as_dict(lines_now), "desks": desks, "threshold_minutes": threshold_minutes,
            "auto_threshold_minutes": office.auto_balance_minutes,
            "suggestions": [m.as_dict() for m in moves]}


async def apply_desk_move(office: Office, desk_name: str, service_code: str, actor: Principal | None) -> dict:
    """Make `service_code` the desk's first service (weight 1); the services it had
    first become its fallbacks (weight 2). One transaction with its audit event."""
    service: Service = await offered_service(office, service_code)
    desk = await get_desk(office, desk_name)
    async with in_transaction():
        moved = await _move_desk(desk, service, actor)
    waiting.desks_changed(office.id)
    await publish_queue_changed(office)  # also makes cached estimates stale
    return moved


async def set_auto_balance(office: Office, threshold_minutes: int | None, actor: Principal) -> dict:
    """Turn automatic desk moves on (above `threshold_minutes` of predicted wait) or off
    (None); with its audit record."""
    async with in_transaction():
        before = office.auto_balance_minutes
        await Office.filter(id=office.id).update(auto_balance_minutes=threshold_minutes)
        await audit(actor, "office.auto_balance", office.code, office.id,
                                  {"auto_balance_minutes": before}, {"auto_balance_minutes": threshold_minutes})
    office.auto_balance_minutes = threshold_minutes
    return {"office": office.code, "auto_threshold_minutes": threshold_minutes}


# After a desk moves (by hand or by itself), the lines need time to show its effect:
# no automatic move sooner than this, so desks do not swing back and forth.
AUTO_BALANCE_COOLDOWN = timedelta(minutes=10)


async def auto_balance(office: Office, config: policy.PolicyConfig) -> dict | None:
    """One automatic step for an office with `auto_balance_minutes` set: apply the first
    suggested move, unless a desk of the office moved within AUTO_BALANCE_COOLDOWN.
    Several instances may run this at once: the office row is written first in the
    transaction (a row lock on PostgreSQL, the write lock on SQLite), so the check of
    the last move and the move itself happen one instance at a time."""
    threshold = office.auto_balance_minutes
    if threshold is None:
        return None
    view = await balancing_view(office, config, threshold_minutes=threshold)
    if not view["suggestions"]:
        return None
    first = view["suggestions"][0]
    moved = None
    async with in_transaction():
        locked = await Office.filter(id=office.id, auto_balance_minutes=threshold).update(
            auto_balance_minutes=threshold)
        recent = await DeskEvent.filter(desk__office_id=office.id, kind="reassigned",
                                        at__gte=clock.now() - AUTO_BALANCE_COOLDOWN).exists()
        if locked and not recent:
            service = await offered_service(office, first["to"])
            desk = await get_desk(office, first["desk"])
            moved = await _move_desk(desk, service, None)
    if moved is None:
        return None
    waiting.desks_changed(office.id)
    await publish_queue_changed(office)  # also makes cached estimates stale
    log.info("balanceo automático en %s: %s", office.code, first["message"])
    return {**moved, "message": first["message"]}


async def _move_desk(desk: Desk, service: Service, actor: Principal | None) -> dict:
    """apply_desk_move's change, in the caller's transaction (published by the caller
    after it commits)."""
    now = clock.now()
    desk = await Desk.filter(id=desk.id).select_for_update().get()
    if desk.status == DeskStatus.CLOSED:
        raise conflict("desk_not_open", f"La ventanilla {desk.name} está cerrada.")
    links = {link.service_id: link for link in await DeskService.filter(desk_id=desk.id)}
    before = {sid: link.weight for sid, link in links.items()}
    for sid, link in links.items():
        if sid != service.id and link.weight <= 1:
            link.weight = 2
            await link.save(update_fields=["weight"])
    if service.id in links:
        links[service.id].weight = 1
        await links[service.id].save(update_fields=["weight"])
    else:
        await DeskService.create(desk_id=desk.id, service_id=service.id, weight=1)
    await DeskEvent.create(desk_id=desk.id, kind="reassigned", at=now, user_id=actor.user_id if actor else None)
    return {"desk": desk.name, "service": service.code, "before": before}
