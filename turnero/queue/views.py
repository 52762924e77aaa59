"""Tickets and desks as the API shows them; a waiting ticket's position and estimated
wait, from the office's lines held in memory."""

from __future__ import annotations

import math

from turnero.core import clock
from turnero.core.models import Office, Service
from turnero.queue import eta, eta_service, policy, waiting
from turnero.queue.config import QueueConfig
from turnero.queue.models import ACTIVE_AT_DESK, Desk, Ticket, TicketStatus


class TicketRow(dict):
    """A ticket row read by raw SQL on PostgreSQL (values already typed), readable by
    attribute like the model, for _view on the hot paths: building the model instance
    costs more than the view itself."""

    __getattr__ = dict.__getitem__


def _view(
    ticket: Ticket | TicketRow, office: Office, service_code: str, service_name: str, desk_name: str | None
) -> dict:
    """The ticket as the API shows it, from values at hand (no query); position and
    wait estimate are filled in by ticket_view for a waiting ticket."""
    tz = office.timezone
    return {
        "id": ticket.public_id,
        "number": ticket.number,
        "office": office.code,
        "service": service_code,
        "service_name": service_name,
        "priority": str(ticket.priority),
        "party_size": ticket.party_size,
        "status": str(ticket.status),
        "position": None,
        "estimated_wait_minutes": None,
        "estimated_wait_low_minutes": None,
        "estimated_wait_high_minutes": None,
        "issued_at": clock.iso(ticket.issued_at, tz),
        "arrived_at": clock.iso(ticket.arrived_at, tz),
        "called_at": clock.iso(ticket.called_at, tz),
        "desk": desk_name,
        "recall_count": ticket.recall_count,
    }


async def ticket_view(ticket: Ticket, office: Office, config: QueueConfig) -> dict:
    # Relations already loaded (select_related, or set by the caller) cost no query.
    service = ticket.service if isinstance(ticket.service, Service) else await Service.get(id=ticket.service_id)
    desk_name = None
    if ticket.desk_id is not None:
        desk = ticket.desk if isinstance(ticket.desk, Desk) else await Desk.get(id=ticket.desk_id)
        desk_name = desk.name
    view = _view(ticket, office, service.code, service.name, desk_name)
    if ticket.status == TicketStatus.WAITING:
        await fill_wait(view, ticket, office, config)
    return view


async def fill_wait(view: dict, ticket: Ticket | TicketRow, office: Office, config: QueueConfig) -> dict:
    """A waiting ticket's place in its service's queue and its estimated wait, from the
    office's lines held in memory (waiting.py): no scan of the line."""
    office_lines = await waiting.office_lines(office.id)
    view["position"] = office_lines.position(ticket.id, clock.now(), config.policy.preferential_ratio)
    if config.predict_waits:
        minutes, span = await eta_service.wait_for_view(ticket, office, config.policy)
        view["estimated_wait_minutes"] = minutes
        if span is not None:
            view["estimated_wait_low_minutes"], view["estimated_wait_high_minutes"] = span
    elif view["position"] is not None:
        # The position-based figure: the line shared among the open desks — or, with none
        # open, among the desks expected, counted from when the first is expected.
        estimate = await eta_service.current_estimate(office, config.policy)
        open_desks = estimate.open_desks.get(ticket.service_id, 0)
        view["estimated_wait_minutes"] = policy.estimate_wait_minutes(
            view["position"], open_desks, estimate.minutes.get(ticket.service_id, eta.DEFAULT_PRIOR_MINUTES))
        opens_at = estimate.opens_at.get(ticket.service_id)
        if not open_desks and opens_at is not None:
            view["estimated_wait_minutes"] += max(0, math.ceil((opens_at - clock.now()).total_seconds() / 60))
    return view


async def desk_views(office: Office) -> list[dict]:
    desks = await Desk.filter(office_id=office.id).order_by("id").prefetch_related(
        "services__service", "operator"
    )
    serving = dict(
        await Ticket.filter(office_id=office.id, status__in=ACTIVE_AT_DESK, desk_id__isnull=False)
        .values_list("desk_id", "number")
    )
    return [_desk_view(d, serving.get(d.id)) for d in desks]


def _desk_view(desk: Desk, serving_number: str | None) -> dict:
    links = sorted(desk.services, key=lambda link: (link.weight, link.service.code))
    return {
        "name": desk.name,
        "status": str(desk.status),
        "services": [link.service.code for link in links],
        "service_weights": {link.service.code: link.weight for link in links},
        "operator": desk.operator.username if desk.operator else None,
        "serving": serving_number,
    }
