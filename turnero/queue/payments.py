"""Payments seen at descarte (issue 20): the reference of the bank slip (Banco Unión) or
of the UNIMOVIL transaction a citizen paid the trámite with, recorded by the desk that
checks the requirements — checked for form and used once only, so one slip pays for one
trámite. Turnero takes no money and asks no bank: it keeps what the desk saw.

The rule (`normalised_reference`, pure): spaces, dots and dashes are how people copy a
number, not part of it; what is left must be 6 to 24 letters and digits with at least 6
digits (the sources give no format of either channel, so only what no real reference
could be is refused)."""

from __future__ import annotations

import re

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.errors import conflict, invalid
from turnero.queue.models import PaymentRecord, Ticket, TicketEvent, TicketStatus

_SEPARATORS = re.compile(r"[\s.\-/]")
_REFERENCE = re.compile(r"^[A-Z0-9]{6,24}$")
CHANNELS = {"banco_union": "Banco Unión", "unimovil": "UNIMOVIL"}


def normalised_reference(raw: str) -> str | None:
    """The reference as stored ("0012-3456 78" -> "0012345678"), or None if it cannot
    be one."""
    reference = _SEPARATORS.sub("", raw).upper()
    if not _REFERENCE.match(reference) or sum(c.isdigit() for c in reference) < 6:
        return None
    return reference


async def record_payment(ticket: Ticket, raw_reference: str, channel: str, actor: Principal) -> dict:
    """Record the payment of the trámite the ticket is at a desk for (called or being
    served); 409 `payment_reference_used` when that reference already paid for one."""
    reference = normalised_reference(raw_reference)
    if reference is None:
        raise invalid("La referencia de pago debe tener de 6 a 24 letras y dígitos, con al menos 6 dígitos "
                      "(el número de la boleta o de la transacción).", code="invalid_payment_reference")
    if ticket.status not in (TicketStatus.CALLED, TicketStatus.SERVING):
        raise conflict("ticket_not_at_desk", "El pago se registra mientras el turno está en la ventanilla.")
    now = clock.now()
    try:
        async with in_transaction():
            await PaymentRecord.create(reference=reference, channel=channel, ticket_id=ticket.id,
                                       office_id=ticket.office_id, recorded_at=now, user_id=actor.user_id)
            await TicketEvent.create(ticket_id=ticket.id, kind="payment_recorded", at=now, desk_id=ticket.desk_id,
                                     user_id=actor.user_id, data={"reference": reference, "channel": channel})
    except IntegrityError:
        raise conflict("payment_reference_used",
                       f"La referencia {reference} ya se usó para pagar otro trámite.") from None
    return {"reference": reference, "channel": channel, "ticket": ticket.public_id,
            "recorded_at": now.isoformat(timespec="seconds")}
