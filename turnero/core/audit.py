"""The audit log of configuration changes: who changed what, when, with the values before
and after. Shared by every domain that changes configuration (administration, booking
rules and closures, automatic desk balancing), so it lives in core: a domain records a
change here without importing the administration package."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from turnero.core import clock
from turnero.core.auth import Principal


class AuditEntry(Model):
    """One configuration change, written in the same transaction as the change."""

    id = fields.IntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    user = fields.ForeignKeyField(
        "models.User", related_name="admin_audit", null=True, on_delete=fields.SET_NULL
    )
    # Kept as text too: the entry must still say who it was if the user is renamed.
    username = fields.CharField(max_length=64)
    # The office the change belongs to (None for the global catalogue), so a supervisor
    # reads the history of their own office.
    office = fields.ForeignKeyField(
        "models.Office", related_name="admin_audit", null=True, on_delete=fields.SET_NULL
    )
    action = fields.CharField(max_length=48)  # e.g. "office.update", "desk.create"
    target = fields.CharField(max_length=160)  # e.g. "LPZ-PRINCIPAL/5", "operador1"
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)

    class Meta:
        table = "admin_audit"


async def audit(actor: Principal, action: str, target: str, office_id: int | None,
                before: dict | None, after: dict | None) -> None:
    """One audit record; call it inside the change's transaction."""
    await AuditEntry.create(
        at=clock.now(), user_id=actor.user_id, username=actor.username, office_id=office_id,
        action=action, target=target, before=before, after=after,
    )
