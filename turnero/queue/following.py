"""A citizen's page following its ticket on the live channel (displays/hub.py sends
what this gives as `ticket.update`): the visit's current ticket and its view, kept
up to date from the lines in memory while it waits."""

from __future__ import annotations

from dataclasses import dataclass

from turnero.core.models import Office
from turnero.queue import actions, views, waiting
from turnero.queue.config import QueueConfig
from turnero.queue.models import TicketStatus

FINAL_STATUSES = (TicketStatus.DONE.value, TicketStatus.NO_SHOW.value, TicketStatus.CANCELLED.value)


@dataclass
class Followed:
    """A ticket a citizen's page follows: the visit's current ticket and its view."""

    office_id: int
    ticket_id: int
    service_id: int
    view: dict


async def followed_ticket(public: str, config: QueueConfig) -> Followed:
    """What a page following `public` follows (a transferred ticket: its latest hop)."""
    current, view = await actions.public_ticket(public, config)
    return Followed(current.office_id, current.id, current.service_id, view)


async def refresh_followed(followed: Followed, office: Office, config: QueueConfig, *,
                           due: bool = True) -> Followed:
    """The followed ticket's view now. Still waiting: only its place and wait change,
    from the lines in memory (no query) — and not even that unless `due` (the same
    object comes back); otherwise it is read again (the few tickets that just left the
    line, or stand at a desk)."""
    if followed.view["status"] == TicketStatus.WAITING.value:
        if followed.ticket_id in await waiting.office_lines(office.id):
            if not due:
                return followed
            row = views.TicketRow(id=followed.ticket_id, status=TicketStatus.WAITING, service_id=followed.service_id)
            view = await views.fill_wait(dict(followed.view), row, office, config)
            return Followed(followed.office_id, followed.ticket_id, followed.service_id, view)
    elif followed.view["status"] in FINAL_STATUSES:
        return followed
    return await followed_ticket(followed.view.get("transferred_from") or followed.view["id"], config)
