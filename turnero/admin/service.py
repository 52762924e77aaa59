"""Administration operations: offices, services, desks, users and devices.

Each change is one transaction that also writes its AuditEntry (who, what, when, the
values before and after). Admins act everywhere; a supervisor only on their own office
(its hours, address, catalogue and desks, and its operator, kiosk and display users).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from turnero.admin.schemas import (
    ConfigFile,
    DeskCreate,
    DeskUpdate,
    OfficeCreate,
    OfficeUpdate,
    ServiceCreate,
    ServiceUpdate,
    UserCreate,
    UserUpdate,
)
from turnero.core import auth
from turnero.core.audit import AuditEntry, audit
from turnero.core.auth import Principal, hash_password_off_loop
from turnero.core.errors import conflict, forbidden, invalid, not_found
from turnero.core.models import ApiToken, Office, OfficeService, Role, Service, ServiceKind, User
from turnero.core.service import can_match, service_view
from turnero.queue.models import Desk, DeskEvent, DeskService, DeskStatus, Ticket

# Roles a supervisor may hand out within their own office.
SUPERVISED_ROLES = (Role.OPERATOR, Role.KIOSK, Role.DISPLAY)
# Office fields a supervisor may change on their own office.
SUPERVISOR_OFFICE_FIELDS = {"address", "opening_hours", "services"}


def cli_actor() -> Principal:
    """The `turnero` command acts as an admin with no user row; the audit says "cli"."""
    return Principal(user_id=None, username="cli", role=Role.ADMIN, office_id=None,  # type: ignore[arg-type]
                     office_code=None, expires_at_epoch=0.0)


# ---------------------------------------------------------------- helpers


def _require_admin(actor: Principal, what: str) -> None:
    if not actor.is_admin:
        raise forbidden(f"Solo un administrador puede {what}.")


def _require_office(actor: Principal, office: Office) -> None:
    if not actor.can_act_on(office.id):
        raise forbidden("Solo puede administrar su propia oficina.")


async def office_by_code(code: str, *, include_inactive: bool = True) -> Office:
    office = await Office.get_or_none(code=code) if can_match(Office, "code", code) else None
    if office is None or (not include_inactive and not office.active):
        raise not_found("office_not_found", f"No existe la oficina {code!r}.")
    return office


async def _services_by_code(codes: list[str]) -> dict[str, Service]:
    found = {s.code: s for s in await Service.filter(code__in=codes)} if codes else {}
    missing = [c for c in codes if c not in found]
    if missing:
        raise invalid(f"No existe el trámite {missing[0]}.", code="unknown_service")
    return found


async def _office_codes(office_id: int) -> list[str]:
    return sorted(await OfficeService.filter(office_id=office_id).values_list("service__code", flat=True))


def office_view(office: Office, services: list[str]) -> dict:
    return {
        "code": office.code, "name": office.name, "institution": office.institution,
        "department": office.department, "city": office.city, "address": office.address,
        "timezone": office.timezone, "opening_hours": office.opening_hours or {},
        "services": services, "active": office.active, "kind": str(office.kind),
    }


def service_admin_view(service: Service) -> dict:
    return {**service_view(service), "expected_service_minutes": service.expected_service_minutes,
            "active": service.active}


def user_view(user: User, office_code: str | None) -> dict:
    return {"username": user.username, "full_name": user.full_name, "role": str(user.role),
            "office": office_code, "active": user.active}


# ---------------------------------------------------------------- offices


async def list_offices(actor: Principal) -> list[dict]:
    query = Office.all() if actor.is_admin else Office.filter(id=actor.office_id)
    offices = await query.order_by("code")
    links = await OfficeService.filter(office_id__in=[o.id for o in offices]).values_list("office_id", "service__code")
    codes: dict[int, list[str]] = {}
    for office_id, code in links:
        codes.setdefault(office_id, []).append(code)
    return [office_view(o, sorted(codes.get(o.id, []))) for o in offices]


async def get_office(actor: Principal, code: str) -> dict:
    office = await office_by_code(code)
    _require_office(actor, office)
    return office_view(office, await _office_codes(office.id))


async def create_office(actor: Principal, data: OfficeCreate) -> dict:
    _require_admin(actor, "crear oficinas")
    services = await _services_by_code(data.services)
    fields = data.model_dump(exclude={"services"})
    try:
        async with in_transaction():
            if await Office.exists(code=data.code):
                raise conflict("office_exists", f"Ya existe la oficina {data.code}.")
            office = await Office.create(**fields)
            for service in services.values():
                await OfficeService.create(office_id=office.id, service_id=service.id)
            view = office_view(office, sorted(services))
            await audit(actor, "office.create", office.code, office.id, None, view)
    except IntegrityError:  # a concurrent create of the same code
        raise conflict("office_exists", f"Ya existe la oficina {data.code}.") from None
    return view


async def update_office(actor: Principal, code: str, data: OfficeUpdate) -> dict:
    office = await office_by_code(code)
    _require_office(actor, office)
    changes = data.model_dump(exclude_unset=True)
    if not actor.is_admin and set(changes) - SUPERVISOR_OFFICE_FIELDS:
        raise forbidden("Un supervisor solo puede cambiar la dirección, el horario y los trámites de su oficina.")
    new_codes = changes.pop("services", None)
    services = await _services_by_code(new_codes) if new_codes is not None else {}
    async with in_transaction():
        office = await Office.filter(id=office.id).select_for_update().get()
        before = office_view(office, await _office_codes(office.id))
        if changes:
            office.update_from_dict(changes)
            await office.save(update_fields=list(changes))
        if new_codes is not None:
            await _set_catalogue(office, services)
        after = office_view(office, await _office_codes(office.id))
        if after != before:
            await audit(actor, "office.update", office.code, office.id, before, after)
    return after


async def _set_catalogue(office: Office, services: dict[str, Service]) -> None:
    wanted = {s.id for s in services.values()}
    current = set(await OfficeService.filter(office_id=office.id).values_list("service_id", flat=True))
    removed = current - wanted
    if removed:
        await OfficeService.filter(office_id=office.id, service_id__in=removed).delete()
        # A desk cannot serve what the office no longer offers.
        desk_ids = await Desk.filter(office_id=office.id).values_list("id", flat=True)
        await DeskService.filter(desk_id__in=desk_ids, service_id__in=removed).delete()
    for service_id in wanted - current:
        await OfficeService.create(office_id=office.id, service_id=service_id)


# ---------------------------------------------------------------- services


async def list_services() -> list[dict]:
    return [service_admin_view(s) for s in await Service.all().order_by("code")]


async def service_by_code(code: str) -> Service:
    service = await Service.get_or_none(code=code) if can_match(Service, "code", code) else None
    if service is None:
        raise not_found("service_not_found", f"No existe el trámite {code!r}.")
    return service


async def _check_steps(code: str, steps: list[str]) -> None:
    if code in steps:
        raise invalid("Un trámite no puede ser paso de sí mismo.", code="invalid_steps")
    if len(set(steps)) != len(steps):
        raise invalid("Los pasos no pueden repetirse.", code="invalid_steps")
    found = await _services_by_code(steps)
    nested = [c for c, s in found.items() if s.steps]
    if nested:
        raise invalid(f"El paso {nested[0]} tiene pasos propios; los pasos deben ser trámites simples.",
                      code="invalid_steps")


async def create_service(actor: Principal, data: ServiceCreate) -> dict:
    _require_admin(actor, "crear trámites")
    await _check_steps(data.code, data.steps)
    try:
        async with in_transaction():
            if await Service.exists(code=data.code):
                raise conflict("service_exists", f"Ya existe el trámite {data.code}.")
            service = await Service.create(**{**data.model_dump(), "kind": ServiceKind(data.kind)})
            view = service_admin_view(service)
            await audit(actor, "service.create", service.code, None, None, view)
    except IntegrityError:
        raise conflict("service_exists", f"Ya existe el trámite {data.code}.") from None
    return view


async def update_service(actor: Principal, code: str, data: ServiceUpdate) -> dict:
    _require_admin(actor, "cambiar trámites")
    service = await service_by_code(code)
    changes = data.model_dump(exclude_unset=True)
    if "steps" in changes:
        await _check_steps(service.code, changes["steps"])
    if "kind" in changes:
        changes["kind"] = ServiceKind(changes["kind"])
    async with in_transaction():
        service = await Service.filter(id=service.id).select_for_update().get()
        before = service_admin_view(service)
        if changes:
            service.update_from_dict(changes)
            await service.save(update_fields=list(changes))
        after = service_admin_view(service)
        if after != before:
            await audit(actor, "service.update", service.code, None, before, after)
    return after


# ---------------------------------------------------------------- desks


async def _desk_weights(desk_ids: list[int]) -> dict[int, dict[str, int]]:
    rows = await DeskService.filter(desk_id__in=desk_ids).values_list("desk_id", "service__code", "weight")
    weights: dict[int, dict[str, int]] = {d: {} for d in desk_ids}
    for desk_id, code, weight in rows:
        weights[desk_id][code] = weight
    return weights


def desk_view(desk: Desk, weights: dict[str, int]) -> dict:
    return {"name": desk.name, "status": str(desk.status), "services": dict(sorted(weights.items()))}


def _desk_sort_key(name: str):
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


async def list_desks(actor: Principal, office_code: str) -> list[dict]:
    office = await office_by_code(office_code)
    _require_office(actor, office)
    desks = await Desk.filter(office_id=office.id)
    weights = await _desk_weights([d.id for d in desks])
    desks.sort(key=lambda d: _desk_sort_key(d.name))
    return [desk_view(d, weights[d.id]) for d in desks]


async def _offered_weights(office: Office, weights: dict[str, int]) -> dict[int, int]:
    """Service id -> weight, each service offered by the office (422 otherwise)."""
    services = await _services_by_code(list(weights))
    offered = set(await OfficeService.filter(office_id=office.id).values_list("service_id", flat=True))
    for code, service in services.items():
        if service.id not in offered:
            raise invalid(f"La oficina {office.code} no ofrece el trámite {code}; agréguelo primero a la oficina.",
                          code="service_not_offered")
    return {services[code].id: weight for code, weight in weights.items()}


async def _get_desk(office: Office, name: str) -> Desk:
    desk = await Desk.get_or_none(office_id=office.id, name=name) if can_match(Desk, "name", name) else None
    if desk is None:
        raise not_found("desk_not_found", f"No existe la ventanilla {name!r} en {office.code}.")
    return desk


async def create_desk(actor: Principal, office_code: str, data: DeskCreate) -> dict:
    office = await office_by_code(office_code)
    _require_office(actor, office)
    weights = await _offered_weights(office, data.services)
    try:
        async with in_transaction():
            if await Desk.exists(office_id=office.id, name=data.name):
                raise conflict("desk_exists", f"Ya existe la ventanilla {data.name} en {office.code}.")
            desk = await Desk.create(office_id=office.id, name=data.name, status=DeskStatus.CLOSED)
            for service_id, weight in weights.items():
                await DeskService.create(desk_id=desk.id, service_id=service_id, weight=weight)
            view = desk_view(desk, data.services)
            await audit(actor, "desk.create", f"{office.code}/{desk.name}", office.id, None, view)
    except IntegrityError:
        raise conflict("desk_exists", f"Ya existe la ventanilla {data.name} en {office.code}.") from None
    return view


async def update_desk(actor: Principal, office_code: str, name: str, data: DeskUpdate) -> dict:
    office = await office_by_code(office_code)
    _require_office(actor, office)
    desk = await _get_desk(office, name)
    weights = await _offered_weights(office, data.services) if data.services is not None else None
    try:
        async with in_transaction():
            desk = await Desk.filter(id=desk.id).select_for_update().get()
            before = desk_view(desk, (await _desk_weights([desk.id]))[desk.id])
            if data.name is not None and data.name != desk.name:
                if await Desk.exists(office_id=office.id, name=data.name):
                    raise conflict("desk_exists", f"Ya existe la ventanilla {data.name} en {office.code}.")
                desk.name = data.name
                await desk.save(update_fields=["name"])
            if weights is not None:
                await DeskService.filter(desk_id=desk.id).delete()
                for service_id, weight in weights.items():
                    await DeskService.create(desk_id=desk.id, service_id=service_id, weight=weight)
            after = desk_view(desk, (await _desk_weights([desk.id]))[desk.id])
            if after != before:
                await audit(actor, "desk.update", f"{office.code}/{before['name']}", office.id, before, after)
    except IntegrityError:
        raise conflict("desk_exists", f"Ya existe la ventanilla {data.name} en {office.code}.") from None
    return after


async def delete_desk(actor: Principal, office_code: str, name: str) -> None:
    """Only a closed desk that never served anyone: its history feeds the reports."""
    office = await office_by_code(office_code)
    _require_office(actor, office)
    desk = await _get_desk(office, name)
    async with in_transaction():
        desk = await Desk.filter(id=desk.id).select_for_update().get()
        if desk.status != DeskStatus.CLOSED:
            raise conflict("desk_in_use", f"Cierre la ventanilla {desk.name} antes de eliminarla.")
        if await Ticket.exists(desk_id=desk.id) or await DeskEvent.exists(desk_id=desk.id):
            raise conflict("desk_has_history",
                           f"La ventanilla {desk.name} tiene historial de atención; quítele los trámites en lugar de eliminarla.")
        before = desk_view(desk, (await _desk_weights([desk.id]))[desk.id])
        await desk.delete()
        await audit(actor, "desk.delete", f"{office.code}/{desk.name}", office.id, before, None)


# ---------------------------------------------------------------- users and devices


async def list_users(actor: Principal, office_code: str | None = None, roles: tuple[str, ...] = ()) -> list[dict]:
    query = User.all().select_related("office")
    if not actor.is_admin:
        query = query.filter(office_id=actor.office_id)
    elif office_code:
        query = query.filter(office_id=(await office_by_code(office_code)).id)
    if roles:
        query = query.filter(role__in=list(roles))
    users = await query.order_by("username")
    return [user_view(u, u.office.code if u.office else None) for u in users]


async def user_by_name(name: str) -> User:
    user = (await User.get_or_none(username=name).select_related("office")
            if can_match(User, "username", name) else None)
    if user is None:
        raise not_found("user_not_found", f"No existe el usuario {name!r}.")
    return user


def _check_role_and_office(actor: Principal, role: Role, office: Office | None) -> None:
    if role == Role.ADMIN and office is not None:
        raise invalid("Un administrador no pertenece a una oficina; quite la oficina.", code="invalid_office")
    if role != Role.ADMIN and office is None:
        raise invalid("Este rol necesita una oficina.", code="office_required")
    if not actor.is_admin:
        if role not in SUPERVISED_ROLES:
            raise forbidden("Un supervisor solo puede gestionar operadores, quioscos y pantallas.")
        if office is None or office.id != actor.office_id:
            raise forbidden("Solo puede gestionar usuarios de su propia oficina.")


# A stored hash no password matches ("!" is no argon2 hash): an imported user cannot
# sign in until `turnero user set-password` gives them one.
NO_PASSWORD = "!"


async def create_user(actor: Principal, data: UserCreate, *, password_hash: str | None = None) -> dict:
    """`password_hash` (the import's NO_PASSWORD) instead of hashing `data.password`."""
    role = Role(data.role)
    office = await office_by_code(data.office) if data.office else None
    _check_role_and_office(actor, role, office)
    if password_hash is None:
        password_hash = await hash_password_off_loop(data.password)
    try:
        async with in_transaction():
            if await User.exists(username=data.username):
                raise conflict("user_exists", f"Ya existe el usuario {data.username}.")
            user = await User.create(username=data.username, full_name=data.full_name, role=role,
                                     office_id=office.id if office else None, password_hash=password_hash)
            view = user_view(user, office.code if office else None)
            await audit(actor, "user.create", user.username, office.id if office else None, None, view)
    except IntegrityError:
        raise conflict("user_exists", f"Ya existe el usuario {data.username}.") from None
    return view


async def update_user(actor: Principal, name: str, data: UserUpdate) -> dict:
    user = await user_by_name(name)
    # The user as it is must be within the actor's reach, and so must what it becomes.
    _check_role_and_office(actor, Role(user.role), user.office)
    changes = data.model_dump(exclude_unset=True, exclude={"password"})
    office = user.office
    if "office" in changes:
        office = await office_by_code(changes["office"]) if changes["office"] else None
    role = Role(changes.get("role", user.role))
    _check_role_and_office(actor, role, office)
    if user.id == actor.user_id and (changes.get("active") is False or role != Role(user.role)):
        raise invalid("No puede desactivarse ni cambiarse el rol a sí mismo.", code="self_change")
    password_hash = await hash_password_off_loop(data.password) if data.password else None
    async with in_transaction():
        user = await User.filter(id=user.id).select_for_update().get()
        before = user_view(user, (await Office.get(id=user.office_id)).code if user.office_id else None)
        user.full_name = changes.get("full_name", user.full_name)
        user.role = role
        user.office_id = office.id if office else None
        user.active = changes.get("active", user.active)
        fields = ["full_name", "role", "office_id", "active"]
        if password_hash:
            user.password_hash = password_hash
            fields.append("password_hash")
        await user.save(update_fields=fields)
        after = user_view(user, office.code if office else None)
        signed_out = password_hash is not None or not user.active or after["role"] != before["role"] \
            or after["office"] != before["office"]
        if signed_out:  # old sessions must not keep the old rights
            await ApiToken.filter(user_id=user.id).delete()
        if after != before or password_hash:
            audit_after = {**after, "password_changed": True} if password_hash else after
            await audit(actor, "user.update", user.username, office.id if office else user.office_id,
                         before, audit_after)
    if signed_out:
        auth.clear_cache()
    return after


# ---------------------------------------------------------------- audit log


async def list_audit(actor: Principal, office_code: str | None = None, limit: int = 100) -> list[dict]:
    query = AuditEntry.all().select_related("office")
    if not actor.is_admin:
        query = query.filter(office_id=actor.office_id)
    elif office_code:
        query = query.filter(office_id=(await office_by_code(office_code)).id)
    entries = await query.order_by("-at", "-id").limit(limit)
    return [
        {"at": e.at.isoformat(timespec="seconds"), "username": e.username,
         "office": e.office.code if e.office else None, "action": e.action, "target": e.target,
         "before": e.before, "after": e.after}
        for e in entries
    ]


# ---------------------------------------------------------------- configuration export / import


async def export_config() -> dict:
    # Stored fields only: `cost_line` is words made from `fee_bs`.
    services = [{k: v for k, v in s.items() if k != "cost_line"} for s in await list_services()]
    offices = await list_offices(cli_actor())
    for office in offices:
        office["desks"] = [{"name": d["name"], "services": d["services"]}
                           for d in await list_desks(cli_actor(), office["code"])]
    users = await list_users(cli_actor())
    return {
        "version": 1,
        "services": services,
        "offices": offices,
        "users": [{k: u[k] for k in ("username", "role", "office", "full_name", "active")} for u in users],
    }


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, before, after) -> None:
        if before is None:
            self.created += 1
        elif before != after:
            self.updated += 1
        else:
            self.unchanged += 1


async def import_config(config: ConfigFile, actor: Principal | None = None) -> ImportResult:
    """Create what is missing and update what differs (nothing is deleted), all in one
    transaction: a file with one bad entry changes nothing. New users get no usable
    password: set one with `turnero user set-password NAME`."""
    actor = actor or cli_actor()
    result = ImportResult()
    async with in_transaction():
        # Services first (steps refer to other services: create all, then set steps).
        existing = {s.code: service_admin_view(s) for s in await Service.all()}
        for data in config.services:
            if data.code not in existing:
                await create_service(actor, data.model_copy(update={"steps": []}))
        for data in config.services:
            after = await update_service(actor, data.code, ServiceUpdate(**data.model_dump(exclude={"code"})))
            result.count(existing.get(data.code), after)
        for data in config.offices:
            office_fields = data.model_dump(exclude={"code", "desks"})
            if await Office.exists(code=data.code):
                before = await get_office(actor, data.code)
                after = await update_office(actor, data.code, OfficeUpdate(**office_fields))
            else:
                before, after = None, await create_office(actor, OfficeCreate(**data.model_dump(exclude={"desks"})))
            result.count(before, after)
            desks = {d["name"]: d for d in await list_desks(actor, data.code)}
            for desk in data.desks:
                if desk.name in desks:
                    after = await update_desk(actor, data.code, desk.name, DeskUpdate(services=desk.services))
                    result.count(desks[desk.name], after)
                else:
                    await create_desk(actor, data.code, desk)
                    result.count(None, desk)
        for data in config.users:
            if await User.exists(username=data.username):
                before = user_view(u := await user_by_name(data.username), u.office.code if u.office else None)
                after = await update_user(actor, data.username, UserUpdate(**data.model_dump(exclude={"username"})))
                result.count(before, after)
            else:
                # No usable password until one is set (nothing hashed for a password nobody knows).
                await create_user(actor, UserCreate(username=data.username, role=data.role, office=data.office,
                                                    full_name=data.full_name, password=secrets.token_urlsafe(24)),
                                  password_hash=NO_PASSWORD)
                if not data.active:
                    await User.filter(username=data.username).update(active=False)
                result.count(None, data)
    return result
