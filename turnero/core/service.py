"""Catalogue look-ups shared by every domain: offices and services by their codes."""

from __future__ import annotations

from turnero.core.errors import invalid, not_found
from turnero.core.models import Office, OfficeService, Service


def can_match(model, field: str, value: str | None) -> bool:
    """Whether `value` could be stored in `model.field`, so a look-up by it can match.
    An over-long value makes Tortoise raise instead of finding nothing, and a NUL
    character makes PostgreSQL raise: neither may turn a bad request into a 500."""
    max_length = model._meta.fields_map[field].max_length
    return bool(value) and len(value) <= max_length and "\x00" not in value


async def get_office(code: str) -> Office:
    office = await Office.get_or_none(code=code, active=True) if can_match(Office, "code", code) else None
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
    service = await get_service(code)
    if not await OfficeService.exists(office_id=office.id, service_id=service.id):
        raise invalid(
            f"La oficina {office.code} no ofrece el trámite {service.code}.", code="service_not_offered"
        )
    return service


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
        }
        for o in offices
    ]
