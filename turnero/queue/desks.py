"""Desk sessions: finding a desk, opening, pausing and closing it (one login per desk,
one desk per operator, a supervisor's take-over audited)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.errors import conflict, not_found
from turnero.core.models import Office, Role, User
from turnero.core.service import can_match
from turnero.queue import waiting
from turnero.queue.events import _publish_queue_changed
from turnero.queue.models import ACTIVE_AT_DESK, Desk, DeskEvent, DeskStatus, Ticket
from turnero.queue.views import desk_views


async def get_desk(office: Office, name: str) -> Desk:
    desk = await Desk.get_or_none(office_id=office.id, name=name) if can_match(Desk, "name", name) else None
    if desk is None:
        raise not_found("desk_not_found", f"No existe la ventanilla {name!r} en {office.code}.")
    return desk


async def _check_desk_holder(desk: Desk, actor: Principal, take_over: bool) -> bool:
    """Opening `desk`: a desk held by another login (open or paused) is refused with 409
    `desk_in_use`, unless a supervisor or admin takes it over explicitly (True: to be
    audited); an operator holds one desk at a time (409 `already_at_desk`, naming it).
    Runs under the desk's row lock, and the operator's user row lock (PostgreSQL)."""
    taken_over = False
    if desk.status != DeskStatus.CLOSED and desk.operator_id is not None and desk.operator_id != actor.user_id:
        if not (take_over and actor.role in (Role.SUPERVISOR, Role.ADMIN)):
            holder = await User.filter(id=desk.operator_id).values_list("username", flat=True)
            who = f" por {holder[0]}" if holder else ""
            raise conflict(
                "desk_in_use",
                f"La ventanilla {desk.name} está en uso{who}. Debe cerrarla quien la atiende, "
                "o un supervisor puede tomarla.",
            )
        taken_over = True
    if actor.role == Role.OPERATOR:
        other = await (
            Desk.filter(operator_id=actor.user_id, status__not=DeskStatus.CLOSED).exclude(id=desk.id)
            .values_list("name", flat=True)
        )
        if other:
            raise conflict(
                "already_at_desk",
                f"Usted ya atiende la ventanilla {other[0]}: ciérrela antes de abrir otra.",
            )
    return taken_over


async def set_desk_status(office: Office, desk_name: str, status: DeskStatus, actor: Principal,
                          take_over: bool = False) -> dict:
    desk = await get_desk(office, desk_name)
    now = clock.now()
    async with in_transaction():
        if status == DeskStatus.OPEN and actor.role == Role.OPERATOR:
            # One desk per operator: concurrent opens by one login queue up on its row.
            await User.filter(id=actor.user_id).select_for_update().first()
        desk = await Desk.filter(id=desk.id).select_for_update().get()
        if status == DeskStatus.OPEN and await _check_desk_holder(desk, actor, take_over):
            await DeskEvent.create(desk=desk, kind="taken_over", at=now, user_id=actor.user_id)
        if status == DeskStatus.CLOSED and await Ticket.exists(desk_id=desk.id, status__in=ACTIVE_AT_DESK):
            raise conflict(
                "desk_busy", "La ventanilla tiene un turno en atención: finalícelo antes de cerrar."
            )
        if status == DeskStatus.PAUSED and desk.status == DeskStatus.CLOSED:
            raise conflict("desk_not_open", "No se puede pausar una ventanilla cerrada.")
        desk.status = status
        desk.status_changed_at = now
        if status == DeskStatus.OPEN:
            desk.operator_id = actor.user_id
        elif status == DeskStatus.CLOSED:
            desk.operator_id = None
            desk.preferential_streak = 0
        await desk.save(update_fields=["status", "status_changed_at", "operator_id", "preferential_streak"])
        await DeskEvent.create(desk=desk, kind=status.value, at=now, user_id=actor.user_id)
    waiting.desks_changed(office.id)
    await _publish_queue_changed(office)
    for view in await desk_views(office):
        if view["name"] == desk.name:
            return view
    raise not_found("desk_not_found", "La ventanilla ya no existe.")


async def _lock_open_desk(desk_id: int) -> Desk:
    desk = await Desk.filter(id=desk_id).select_for_update().get()
    if desk.status != DeskStatus.OPEN:
        raise conflict("desk_not_open", f"La ventanilla {desk.name} no está abierta.")
    if await Ticket.exists(desk_id=desk.id, status__in=ACTIVE_AT_DESK):
        raise conflict(
            "desk_busy",
            f"La ventanilla {desk.name} ya tiene un turno llamado o en atención: "
            "finalícelo, márquelo como ausente o transfiéralo antes de llamar otro.",
        )
    return desk
