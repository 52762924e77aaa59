"""Catalogue look-ups shared by every domain: offices and services by their codes."""

from __future__ import annotations

from turnero.core.db import model_from_row, placeholders
from turnero.core.errors import invalid, not_found
from turnero.core.models import Office, OfficeService, Service


def can_match(model, field: str, value: str | None) -> bool:
    """Whether `value` could be stored in `model.field`, so a look-up by it can match.
    An over-long value makes Tortoise raise instead of finding nothing, and a NUL
    character makes PostgreSQL raise: neither may turn a bad request into a 500."""
    max_length = model._meta.fields_map[field].max_length
    return bool(value) and len(value) <= max_length and "\x00" not in value


async def get_office(code: str) -> Office:
    office = None
    if can_match(Office, "code", code):
        # Raw SQL: every office-scoped request starts here, and the ORM's query
        # building costs several times the query itself.
        rows = await Office._meta.db.execute_query_dict(
            placeholders('SELECT * FROM "office" WHERE "code" = ? AND "active" = ?'), [code, True]
        )
        office = model_from_row(Office, rows[0]) if rows else None
    if office is None:
        raise not_found("office_not_found", f"No existe la oficina {code!r}.")
    return office


async def get_service(code: str) -> Service:
    service = await Service.get_or_none(code=code, active=True) if can_match(Service, "code", code) else None
    if service is None:
        raise not_found("service_not_found", f"No existe el trámite {code!r}.")
    return service


async def offered_service(office: Office, code: str) -> Service:
    """The service `code`, which must be in the office's catalogue."""
    if can_match(Service, "code", code):
        # The usual case in one statement (every ticket issued asks this).
        rows = await Service._meta.db.execute_query_dict(
            placeholders(
                'SELECT s.* FROM "service" s JOIN "office_service" os ON os."service_id" = s."id"'
                ' WHERE s."code" = ? AND s."active" = ? AND os."office_id" = ?'
            ),
            [code, True, office.id],
        )
        if rows:
            return model_from_row(Service, rows[0])
    # Otherwise say why: unknown service (404) or not offered here (422).
    service = await get_service(code)
    if not await OfficeService.exists(office_id=office.id, service_id=service.id):
        raise invalid(
            f"La oficina {office.code} no ofrece el trámite {service.code}.", code="service_not_offered"
        )
    return service


def fee_words(fee_bs: float | None) -> str | None:
    """What a trámite costs, as a citizen reads it: "Bs 548", "gratuito"; None when no
    figure is published (the citizen is told to ask, never a guess)."""
    if fee_bs is None:
        return None
    if fee_bs == 0:
        return "gratuito"
    # Bolivian figures: a dot between thousands, a comma before the cents (Bs 1.234,50).
    figure = f"{fee_bs:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"Bs {figure.removesuffix(',00')}"


def cost_line(fee_bs: float | None) -> str:
    """The line a kiosk card or the portal shows under a trámite's requirements."""
    words = fee_words(fee_bs)
    if words is None:
        return "Costo: monto no publicado; consúltelo en la oficina"
    return "Gratuito" if fee_bs == 0 else f"Costo: {words}, pagado antes (Banco Unión o UNIMOVIL)"


def service_view(service: Service) -> dict:
    return {
        "code": service.code,
        "name": service.name,
        "prefix": service.prefix,
        "walk_in": service.walk_in,
        "bookable": service.bookable,
        "kind": str(service.kind),
        "requirements": list(service.requirements or []),
        "steps": list(service.steps or []),
        "fee_bs": service.fee_bs,
        "fee_note": service.fee_note,
        "cost_line": cost_line(service.fee_bs),
        "exemptions": list(service.exemptions or []),
        "documents": list(service.documents or []),
    }


async def list_services() -> list[dict]:
    services = await Service.filter(active=True).order_by("code")
    return [service_view(s) for s in services]


async def list_offices(service_code: str | None = None) -> list[dict]:
    offices = await Office.filter(active=True).order_by("code")
    links = await OfficeService.filter(office__active=True, service__active=True).values_list(
        "office_id", "service__code"
    )
    codes: dict[int, list[str]] = {}
    for office_id, code in links:
        codes.setdefault(office_id, []).append(code)
    if service_code is not None:
        await get_service(service_code)
        offices = [o for o in offices if service_code in codes.get(o.id, [])]
    return [
        {
            "code": o.code,
            "name": o.name,
            "institution": o.institution,
            "department": o.department,
            "city": o.city,
            "address": o.address,
            "timezone": o.timezone,
            "opening_hours": o.opening_hours,
            "services": sorted(codes.get(o.id, [])),
            "kind": str(o.kind),
        }
        for o in offices
    ]
