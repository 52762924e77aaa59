"""Printed tickets: the data on a slip, its QR code (SVG) and ESC/POS bytes.

The same `Slip` feeds the 80 mm HTML layout (printed by the kiosk browser) and the
ESC/POS stream (sent to a networked thermal printer).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import segno
from escpos.printer import Dummy
from markupsafe import Markup
from starlette.requests import Request

from turnero.core import clock, wait_words
from turnero.queue.models import Priority, Ticket
from turnero.queue.config import QueueConfig
from turnero.queue.labels import PRIORITY_ES
from turnero.queue.views import ticket_view


# 42 columns fit font A on both 72 mm (512 dots) and 80 mm (576 dots) printers.
ESCPOS_COLUMNS = 42


@dataclass(frozen=True)
class Slip:
    institution: str
    office_name: str
    number: str
    tramite: str  # what the citizen asked for
    first_step: str | None  # the first queue of a multi-step trámite
    priority: str
    priority_label: str | None  # None for regular tickets
    issued_local: str  # "dd/mm/aaaa hh:mm" in the office's time zone
    position: int | None
    estimated_wait_minutes: int | None
    url: str  # the citizen page /t/{id}
    estimated_wait_low_minutes: int | None = None  # the estimate's range (queue/eta_range.py)
    estimated_wait_high_minutes: int | None = None

    @property
    def wait(self) -> str:
        """The estimate in the words of every other surface ("entre 35 y 50 min", "≈ 12 min"):
        core/wait_words.py, as the HTML slip's macro. A slip does not see the desks: it
        never says "Sin espera"."""
        return wait_words.wait_text(self.estimated_wait_minutes, low=self.estimated_wait_low_minutes,
                                    high=self.estimated_wait_high_minutes)

    def qr_svg(self, scale: int = 4) -> Markup:
        # Inline SVG: prints sharply at any DPI and needs no extra request. Without fixed
        # width/height (viewBox only) the page's CSS decides its size on screen and paper.
        svg = segno.make(self.url, error="m").svg_inline(
            scale=scale, omitsize=True, title="Código QR de su turno"
        )
        return Markup(svg)


def public_base(request: Request) -> str:
    """Base of printed links: TURNERO_PUBLIC_URL when set, else the host asked."""
    configured = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def citizen_url(request: Request, public_id: str) -> str:
    return f"{public_base(request)}/t/{public_id}"


async def slip_for(ticket: Ticket, request: Request, config: QueueConfig) -> Slip:
    """The slip of a ticket as it stands now (position and wait only while waiting)."""
    await ticket.fetch_related("office", "service", "flow_service")
    office = ticket.office
    view = await ticket_view(ticket, office, config)
    flow = ticket.flow_service
    priority = str(ticket.priority)
    return Slip(
        institution=office.institution,
        office_name=office.name,
        number=ticket.number,
        tramite=flow.name if flow else ticket.service.name,
        first_step=ticket.service.name if flow else None,
        priority=priority,
        priority_label=None if priority == Priority.REGULAR.value else PRIORITY_ES[priority],
        issued_local=clock.local(ticket.issued_at, office.timezone).strftime("%d/%m/%Y %H:%M"),
        position=view["position"],
        estimated_wait_minutes=view["estimated_wait_minutes"],
        estimated_wait_low_minutes=view["estimated_wait_low_minutes"],
        estimated_wait_high_minutes=view["estimated_wait_high_minutes"],
        url=citizen_url(request, ticket.public_id),
    )


def _plain(text: str) -> str:
    # Thermal printers' code pages lack typographic dashes; accents are fine.
    return text.replace("—", "-").replace("–", "-")


def _lines(text: str) -> str:
    return "\n".join(textwrap.wrap(_plain(text), ESCPOS_COLUMNS)) + "\n"


def escpos_bytes(slip: Slip) -> bytes:
    """The ticket as an ESC/POS stream: init, header, big number, details, QR, cut."""
    p = Dummy()
    p.hw("INIT")  # ESC @: start from a known printer state
    p.set(align="center", bold=True)
    p.text(_lines(slip.institution))
    p.set(align="center", bold=False)
    p.text(_lines(slip.office_name))
    p.text("\nSu turno\n")
    p.set(align="center", bold=True, double_width=True, double_height=True)
    p.text(slip.number + "\n")
    p.set(align="center", bold=True, normal_textsize=True)
    p.text(_lines(slip.tramite))
    p.set(align="center", bold=False, normal_textsize=True)
    if slip.first_step:
        p.text(_lines(f"Primer paso: {slip.first_step}"))
    if slip.priority_label:
        p.set(align="center", bold=True)
        p.text("Atención preferencial:\n")
        p.text(_lines(slip.priority_label))
        p.set(align="center", bold=False)
    p.text(f"Emitido: {slip.issued_local}\n")
    if slip.position is not None:
        p.text(f"Lugar en la fila: {slip.position}\n")
    if slip.estimated_wait_minutes is not None:
        # "≈" is in the printers' CP437; a range too long for one line goes whole on the next.
        line = f"Espera estimada: {slip.wait}"
        p.text(_lines(line) if len(line) <= ESCPOS_COLUMNS else "Espera estimada:\n" + _lines(slip.wait))
    p.text("\n")
    # Native QR (GS ( k): the printer draws it, no raster image to send.
    p.qr(slip.url, native=True, size=6)
    p.set(align="center")
    p.text(_lines("Escanee el código para seguir su turno en el celular."))
    p.text(_lines("Conserve este ticket y esté atento a la pantalla."))
    p.cut()
    return p.output
