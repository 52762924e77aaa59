"""Administration API: each operation, its refusals (401/403/404/409/422 with a Spanish
message, nothing written) and the audit entry written in the same transaction."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error, login
from turnero.core.audit import AuditEntry
from turnero.core.models import Office, OfficeService, Service, User
from turnero.queue.models import Desk, DeskService

OFFICE = "LPZ-PRINCIPAL"
OTHER = "LPZ-ZONA-SUR"
HOURS = {"mon": [["07:30", "12:00"], ["14:00", "18:00"]], "sat": [["08:00", "12:00"]]}
NEW_OFFICE = {
    "code": "CBBA-CENTRAL", "name": "SEGIP Cochabamba — Central", "department": "Cochabamba",
    "city": "Cochabamba", "address": "Av. Heroínas 123", "opening_hours": HOURS, "services": ["CI-RENOV", "CERT"],
}


@pytest.fixture
async def supervisor(client) -> dict:
    return await login(client, "supervisor")  # of LPZ-PRINCIPAL


async def audit_entries(action: str | None = None) -> list[AuditEntry]:
    query = AuditEntry.all().order_by("id")
    return await (query.filter(action=action) if action else query)


async def snapshot() -> dict:
    """Everything a refused request must leave as it was."""
    return {
        "offices": await Office.all().order_by("id").values(),
        "catalogue": await OfficeService.all().order_by("id").values("office_id", "service_id"),
        "services": await Service.all().order_by("id").values(),
        "desks": await Desk.all().order_by("id").values("id", "name", "office_id"),
        "desk_services": await DeskService.all().order_by("id").values("desk_id", "service_id", "weight"),
        "users": await User.all().order_by("id").values("username", "role", "office_id", "active", "password_hash"),
        "audit": await AuditEntry.all().count(),
    }


# ---------------------------------------------------------------- who may ask


ADMIN_PATHS = ("/api/admin/offices", "/api/admin/services", "/api/admin/users", "/api/admin/audit")


async def test_admin_api_needs_sign_in_and_a_manager_role(client):
    # (One database and one sign-in per user for every path: argon2 makes each sign-in slow.)
    for path in ADMIN_PATHS:
        assert_error(await client.get(path), 401, "unauthorized")
    for username in ("operador1", "kiosko", "pantalla"):
        headers = await login(client, username)
        for path in ADMIN_PATHS:
            assert_error(await client.get(path, headers=headers), 403, "forbidden")


# ---------------------------------------------------------------- offices


async def test_admin_creates_an_office_with_hours_and_catalogue_and_the_audit_says_so(client, admin):
    response = await client.post("/api/admin/offices", json=NEW_OFFICE, headers=admin)
    assert response.status_code == 201, response.text
    office = response.json()
    assert office["code"] == "CBBA-CENTRAL" and office["timezone"] == "America/La_Paz"
    assert office["opening_hours"] == HOURS and office["services"] == ["CERT", "CI-RENOV"] and office["active"]

    public = {o["code"]: o for o in (await client.get("/api/offices")).json()}
    assert public["CBBA-CENTRAL"]["services"] == ["CERT", "CI-RENOV"]

    [entry] = await audit_entries("office.create")
    assert entry.username == "admin" and entry.target == "CBBA-CENTRAL"
    assert entry.before is None and entry.after == office
    assert (await User.get(username="admin")).id == entry.user_id


INVALID_OFFICE_CHANGES = [
    ({"code": "x"}, "código"),
    ({"code": "LPZ PRINCIPAL!"}, "código"),
    ({"timezone": "Marte/Base"}, "zona horaria desconocida"),
    ({"opening_hours": {"mon": [["16:00", "07:30"]]}}, "la apertura 16:00 debe ser anterior al cierre 07:30"),
    ({"opening_hours": {"mon": [["07:30", "12:00"], ["11:00", "15:00"]]}}, "se superponen"),
    ({"opening_hours": {"lunes": [["07:30", "12:00"]]}}, "día desconocido"),
    ({"opening_hours": {"tue": [["7:30", "12:00"]]}}, "HH:MM"),
    ({"opening_hours": {"tue": [["07:30"]]}}, "par"),
    ({"name": ""}, "name"),
    ({"services": ["NO-EXISTE"]}, "No existe el trámite NO-EXISTE"),
    ({"colour": "red"}, "campo no permitido"),
]


async def test_invalid_office_values_are_422_with_a_message_and_write_nothing(client, admin):
    # Every case against one database (a database copy and a sign-in per case cost
    # more than the requests); each case is checked on its own all the same.
    before = await snapshot()
    for change, words in INVALID_OFFICE_CHANGES:
        response = await client.post("/api/admin/offices", json={**NEW_OFFICE, **change}, headers=admin)
        error = assert_error(response, 422)
        assert words in error["message"], (change, error)
        assert await snapshot() == before, change


async def test_a_duplicate_office_code_is_409(client, admin):
    assert_error(await client.post("/api/admin/offices", json={**NEW_OFFICE, "code": OFFICE}, headers=admin),
                 409, "office_exists")


async def test_supervisor_changes_the_hours_of_their_own_office(client, supervisor):
    response = await client.patch(f"/api/admin/offices/{OFFICE}", json={"opening_hours": HOURS}, headers=supervisor)
    assert response.status_code == 200, response.text
    assert response.json()["opening_hours"] == HOURS
    assert (await Office.get(code=OFFICE)).opening_hours == HOURS
    [entry] = await audit_entries("office.update")
    assert entry.username == "supervisor" and entry.target == OFFICE
    assert entry.before["opening_hours"] != HOURS and entry.after["opening_hours"] == HOURS
    assert (await Office.get(code=OFFICE)).id == entry.office_id


async def test_supervisor_editing_another_office_is_403_and_changes_nothing(client, supervisor):
    before = await snapshot()
    for method, path, body in [
        ("PATCH", f"/api/admin/offices/{OTHER}", {"opening_hours": HOURS}),
        ("GET", f"/api/admin/offices/{OTHER}", None),
        ("POST", f"/api/admin/offices/{OTHER}/desks", {"name": "9", "services": {"CI-RENOV": 1}}),
        ("PATCH", f"/api/admin/offices/{OTHER}/desks/1", {"services": {"CI-RENOV": 1}}),
        ("DELETE", f"/api/admin/offices/{OTHER}/desks/1", None),
        ("GET", f"/api/admin/offices/{OTHER}/desks", None),
        ("POST", "/api/admin/users", {"username": "op-sur", "password": "secreto123", "role": "operator",
                                      "office": OTHER}),
        ("POST", "/api/admin/offices", NEW_OFFICE),
        ("POST", "/api/admin/services", {"code": "NUEVO", "name": "Nuevo", "prefix": "Z"}),
        ("PATCH", "/api/admin/services/CERT", {"name": "Otro nombre"}),
        ("PATCH", f"/api/admin/offices/{OFFICE}", {"name": "Otro nombre"}),  # admin-only field
        ("POST", "/api/admin/users", {"username": "jefe2", "password": "secreto123", "role": "supervisor",
                                      "office": OFFICE}),
        ("PATCH", "/api/admin/users/admin", {"full_name": "x"}),
    ]:
        response = await client.request(method, path, json=body, headers=supervisor)
        assert_error(response, 403, "forbidden")
    assert await snapshot() == before
    offices = (await client.get("/api/admin/offices", headers=supervisor)).json()
    assert [o["code"] for o in offices] == [OFFICE]


async def test_unknown_office_is_404(client, admin):
    assert_error(await client.patch("/api/admin/offices/NO-EXISTE", json={"address": "x"}, headers=admin),
                 404, "office_not_found")


async def test_removing_a_service_from_the_catalogue_takes_it_off_the_desks(client, admin):
    current = (await client.get(f"/api/admin/offices/{OFFICE}", headers=admin)).json()["services"]
    kept = [c for c in current if c != "CERT"]
    response = await client.patch(f"/api/admin/offices/{OFFICE}", json={"services": kept}, headers=admin)
    assert response.status_code == 200 and "CERT" not in response.json()["services"]
    desks = (await client.get(f"/api/admin/offices/{OFFICE}/desks", headers=admin)).json()
    assert desks and not any("CERT" in d["services"] for d in desks)
    offered = next(o for o in (await client.get("/api/offices")).json() if o["code"] == OFFICE)["services"]
    assert "CERT" not in offered


async def test_an_empty_change_writes_no_audit_entry(client, admin):
    response = await client.patch(f"/api/admin/offices/{OFFICE}", json={}, headers=admin)
    assert response.status_code == 200
    assert await audit_entries() == []


# ---------------------------------------------------------------- services


async def test_admin_creates_and_changes_a_service_with_requirements_and_steps(client, admin):
    body = {"code": "CI-DUPLICADO", "name": "Duplicado de cédula", "prefix": "u", "requirements": ["Denuncia policial"],
            "steps": ["DESCARTE", "CAPTURA"], "expected_service_minutes": 6}
    response = await client.post("/api/admin/services", json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["prefix"] == "U" and created["steps"] == ["DESCARTE", "CAPTURA"] and created["kind"] == "counter"

    response = await client.patch("/api/admin/services/CI-DUPLICADO",
                                  json={"requirements": ["Denuncia policial", "Cédula anterior"]}, headers=admin)
    assert response.status_code == 200
    assert (await Service.get(code="CI-DUPLICADO")).requirements == ["Denuncia policial", "Cédula anterior"]
    create, update = await audit_entries()
    assert (create.action, update.action) == ("service.create", "service.update")
    assert update.before["requirements"] == ["Denuncia policial"] and update.office_id is None


async def test_admin_sets_a_fee_its_exemptions_and_the_documents_a_trámite_takes(client, admin):
    body = {"code": "CIE-X", "name": "Cédula de extranjero", "prefix": "Q", "fee_bs": 548,
            "fee_note": "Pago en Banco Unión", "exemptions": ["Personas refugiadas: gratuita"],
            "documents": ["cie", "passport"]}
    response = await client.post("/api/admin/services", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert {k: response.json()[k] for k in ("fee_bs", "fee_note", "exemptions", "documents")} == {
        "fee_bs": 548.0, "fee_note": "Pago en Banco Unión", "exemptions": ["Personas refugiadas: gratuita"],
        "documents": ["cie", "passport"]}
    # null: no published figure (0 would say "free"); the public catalogue shows the same.
    response = await client.patch("/api/admin/services/CIE-X", json={"fee_bs": None}, headers=admin)
    assert response.status_code == 200 and response.json()["fee_bs"] is None
    public = {s["code"]: s for s in (await client.get("/api/services")).json()}["CIE-X"]
    assert public["fee_bs"] is None and public["documents"] == ["cie", "passport"]
    for bad in ({"fee_bs": -1}, {"fee_bs": "548"}, {"documents": ["dni"]}, {"fee_note": "x" * 301}):
        assert_error(await client.patch("/api/admin/services/CIE-X", json=bad, headers=admin), 422)
    assert (await Service.get(code="CIE-X")).fee_bs is None


INVALID_SERVICES = [
    ({"code": "AB", "name": "x", "prefix": "1"}, "validation_error", "prefijo"),
    ({"code": "AB", "name": "x", "prefix": "A", "steps": ["AB"]}, "invalid_steps", "sí mismo"),
    ({"code": "AB", "name": "x", "prefix": "A", "steps": ["NOPE"]}, "unknown_service", "NOPE"),
    ({"code": "AB", "name": "x", "prefix": "A", "steps": ["CI-NUEVO"]}, "invalid_steps", "pasos propios"),
    ({"code": "AB", "name": "x", "prefix": "A", "expected_service_minutes": 0}, "validation_error", "al menos"),
    ({"code": "AB", "name": "x", "prefix": "A", "kind": "magic"}, "validation_error", "debe ser uno de"),
]


async def test_invalid_services_are_422(client, admin):
    before = await snapshot()
    for body, code, words in INVALID_SERVICES:
        error = assert_error(await client.post("/api/admin/services", json=body, headers=admin), 422, code)
        assert words in error["message"], (body, error)
        assert await snapshot() == before, body


# ---------------------------------------------------------------- desks


async def test_desks_are_created_with_weights_renamed_and_used_by_the_queue(client, admin, supervisor):
    response = await client.post(f"/api/admin/offices/{OFFICE}/desks",
                                 json={"name": "25", "services": {"CI-RENOV": 1, "cert": 2}}, headers=supervisor)
    assert response.status_code == 201, response.text
    assert response.json() == {"name": "25", "status": "closed", "services": {"CERT": 2, "CI-RENOV": 1}}
    desk = await Desk.get(office__code=OFFICE, name="25")
    weights = dict(await DeskService.filter(desk_id=desk.id).values_list("service__code", "weight"))
    assert weights == {"CI-RENOV": 1, "CERT": 2}

    # The operators' desk list (queue API) shows it at once.
    op = await login(client, "operador1")
    assert "25" in [d["name"] for d in (await client.get(f"/api/offices/{OFFICE}/desks", headers=op)).json()]

    response = await client.patch(f"/api/admin/offices/{OFFICE}/desks/25",
                                  json={"name": "Caja 25", "services": {"CERT": 1}}, headers=supervisor)
    assert response.status_code == 200 and response.json()["services"] == {"CERT": 1}
    create, update = await audit_entries()
    assert update.action == "desk.update" and update.target == f"{OFFICE}/25"
    assert update.before["services"] == {"CERT": 2, "CI-RENOV": 1} and update.after["name"] == "Caja 25"

    assert (await client.delete(f"/api/admin/offices/{OFFICE}/desks/Caja 25", headers=supervisor)).status_code == 204
    assert not await Desk.exists(id=desk.id)
    deleted = (await audit_entries())[-1]
    assert deleted.action == "desk.delete" and deleted.before["name"] == "Caja 25" and deleted.after is None


INVALID_DESKS = [
    ({"name": "30", "services": {"CI-RENOV": 0}}, 422, "validation_error", "entre 1"),
    ({"name": "30", "services": {"LIC-NUEVA": 1}}, 422, "service_not_offered", "no ofrece"),
    ({"name": "30", "services": {"NO-EXISTE": 1}}, 422, "unknown_service", "NO-EXISTE"),
    ({"name": "", "services": {}}, 422, "validation_error", "name"),
    ({"name": "5", "services": {"CI-RENOV": 1}}, 409, "desk_exists", "Ya existe"),
]


async def test_invalid_desks_are_refused(client, admin):
    before = await snapshot()
    for body, status, code, words in INVALID_DESKS:
        error = assert_error(await client.post(f"/api/admin/offices/{OFFICE}/desks", json=body, headers=admin),
                             status, code)
        assert words in error["message"], (body, error)
        assert await snapshot() == before, body


async def test_a_desk_in_use_or_with_history_cannot_be_deleted(client, admin):
    op, kiosk = await login(client, "operador3"), await login(client, "kiosko")
    assert (await client.post(f"/api/offices/{OFFICE}/desks/3/open", headers=op)).status_code == 200
    assert_error(await client.delete(f"/api/admin/offices/{OFFICE}/desks/3", headers=admin), 409, "desk_in_use")
    await client.post(f"/api/offices/{OFFICE}/tickets", json={"service": "CI-RENOV"}, headers=kiosk)
    called = (await client.post(f"/api/offices/{OFFICE}/desks/3/call-next", headers=op)).json()
    assert (await client.post(f"/api/tickets/{called['id']}/no-show", headers=op)).status_code == 200
    assert (await client.post(f"/api/offices/{OFFICE}/desks/3/close", headers=op)).status_code == 200
    assert_error(await client.delete(f"/api/admin/offices/{OFFICE}/desks/3", headers=admin), 409, "desk_has_history")
    assert await Desk.exists(office__code=OFFICE, name="3")


# ---------------------------------------------------------------- users and devices


async def test_supervisor_creates_an_operator_who_can_sign_in(client, supervisor):
    body = {"username": "Operador99", "password": "clave-segura", "role": "operator", "office": OFFICE,
            "full_name": "Ana Quispe"}
    response = await client.post("/api/admin/users", json=body, headers=supervisor)
    assert response.status_code == 201, response.text
    assert response.json() == {"username": "operador99", "full_name": "Ana Quispe", "role": "operator",
                               "office": OFFICE, "active": True}
    user = await User.get(username="operador99")
    assert user.password_hash.startswith("$argon2") and "clave-segura" not in user.password_hash
    assert (await client.post("/api/auth/token", json={"username": "operador99", "password": "clave-segura"})).status_code == 200
    [entry] = await audit_entries("user.create")
    assert "password" not in entry.after and "password_hash" not in entry.after


async def test_kiosk_and_display_devices_are_users_with_those_roles(client, admin):
    for name, role in (("quiosco-2", "kiosk"), ("tv-sala-2", "display")):
        body = {"username": name, "password": "dispositivo1", "role": role, "office": OFFICE}
        assert (await client.post("/api/admin/users", json=body, headers=admin)).status_code == 201
    devices = (await client.get(f"/api/admin/users?role=kiosk,display&office={OFFICE}", headers=admin)).json()
    names = {d["username"] for d in devices}
    assert {"quiosco-2", "tv-sala-2", "kiosko", "pantalla"} <= names
    assert all(d["role"] in ("kiosk", "display") for d in devices)
    assert_error(await client.get("/api/admin/users?role=jefe", headers=admin), 422)


INVALID_USERS = [
    ({"username": "nuevo", "password": "corta", "role": "operator", "office": OFFICE}, 422, "password"),
    ({"username": "a b", "password": "secreto123", "role": "operator", "office": OFFICE}, 422, "usuario"),
    ({"username": "nuevo", "password": "secreto123", "role": "operator"}, 422, "necesita una oficina"),
    ({"username": "nuevo", "password": "secreto123", "role": "admin", "office": OFFICE}, 422, "no pertenece"),
    ({"username": "nuevo", "password": "secreto123", "role": "root", "office": OFFICE}, 422, "role"),
    ({"username": "nuevo", "password": "secreto123", "role": "operator", "office": "NO-EXISTE"}, 404, "NO-EXISTE"),
    ({"username": "operador1", "password": "secreto123", "role": "operator", "office": OFFICE}, 409, "Ya existe"),
]


async def test_invalid_users_are_refused(client, admin):
    before = await snapshot()
    for body, status, words in INVALID_USERS:
        error = assert_error(await client.post("/api/admin/users", json=body, headers=admin), status)
        assert words in error["message"], (body, error)
        assert await snapshot() == before, body


async def test_deactivating_a_user_ends_their_sessions(client, admin):
    op = await login(client, "operador2")
    assert (await client.get(f"/api/offices/{OFFICE}/desks", headers=op)).status_code == 200
    response = await client.patch("/api/admin/users/operador2", json={"active": False}, headers=admin)
    assert response.status_code == 200 and response.json()["active"] is False
    assert_error(await client.get(f"/api/offices/{OFFICE}/desks", headers=op), 401)
    entry = (await audit_entries("user.update"))[-1]
    assert entry.before["active"] is True and entry.after["active"] is False


async def test_password_reset_is_audited_without_the_password(client, admin):
    response = await client.patch("/api/admin/users/operador2", json={"password": "nueva-clave-1"}, headers=admin)
    assert response.status_code == 200
    assert (await client.post("/api/auth/token", json={"username": "operador2", "password": "nueva-clave-1"})).status_code == 200
    entry = (await audit_entries("user.update"))[-1]
    assert entry.after["password_changed"] is True and "nueva-clave-1" not in str(entry.after)


async def test_an_admin_cannot_deactivate_themself(client, admin):
    assert_error(await client.patch("/api/admin/users/admin", json={"active": False}, headers=admin), 422, "self_change")


# ---------------------------------------------------------------- the audit log


async def test_the_audit_log_lists_newest_first_and_a_supervisor_sees_only_their_office(client, admin, supervisor):
    await client.patch(f"/api/admin/offices/{OTHER}", json={"address": "Calle 21"}, headers=admin)
    await client.patch(f"/api/admin/offices/{OFFICE}", json={"address": "Calle Sucre 1"}, headers=supervisor)
    everything = (await client.get("/api/admin/audit", headers=admin)).json()
    assert [e["office"] for e in everything] == [OFFICE, OTHER]
    assert everything[0]["username"] == "supervisor" and everything[0]["after"]["address"] == "Calle Sucre 1"
    mine = (await client.get("/api/admin/audit", headers=supervisor)).json()
    assert [e["office"] for e in mine] == [OFFICE]
    assert len((await client.get("/api/admin/audit?limit=1", headers=admin)).json()) == 1
    assert_error(await client.get("/api/admin/audit?limit=0", headers=admin), 422)


# ---------------------------------------------------------------- concurrency


async def test_concurrent_creates_of_one_office_and_one_desk_make_exactly_one(client, admin):
    import asyncio

    responses = await asyncio.gather(*[
        client.post("/api/admin/offices", json={**NEW_OFFICE, "name": f"Oficina {i}"}, headers=admin)
        for i in range(12)
    ])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 11, [r.text for r in responses]
    assert await Office.filter(code="CBBA-CENTRAL").count() == 1
    assert len(await audit_entries("office.create")) == 1

    responses = await asyncio.gather(*[
        client.post("/api/admin/offices/CBBA-CENTRAL/desks", json={"name": "1", "services": {"CERT": i % 3 + 1}},
                    headers=admin)
        for i in range(12)
    ])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 11
    assert await Desk.filter(office__code="CBBA-CENTRAL").count() == 1
    assert await DeskService.filter(desk__office__code="CBBA-CENTRAL").count() == 1
    assert len(await audit_entries("desk.create")) == 1


# ---------------------------------------------------------------- calendars (citas rules and closures)


async def test_booking_rule_and_closure_changes_are_audited(client, supervisor):
    from datetime import timedelta

    from turnero.core import clock

    rule = {"service": "CI-RENOV", "slot_minutes": 20, "capacity": 4, "window_days": 20, "min_notice_minutes": 90,
            "release_time": "07:00", "cancel_cutoff_minutes": 120}
    response = await client.put(f"/api/offices/{OFFICE}/booking-rules", json=rule, headers=supervisor)
    assert response.status_code == 200, response.text
    [entry] = await audit_entries("booking_rule.update")
    assert (entry.username, entry.target) == ("supervisor", f"{OFFICE}/CI-RENOV")
    assert entry.before["slot_minutes"] == 15 and entry.after["slot_minutes"] == 20 and entry.after["capacity"] == 4

    day = clock.local_day(clock.now(), "America/La_Paz") + timedelta(days=9)
    closed = await client.post(f"/api/offices/{OFFICE}/closures", json={"date": day.isoformat(), "reason": "Inventario"},
                               headers=supervisor)
    assert closed.status_code == 201, closed.text
    [entry] = await audit_entries("closure.create")
    assert entry.target == f"{OFFICE}/{day.isoformat()}" and entry.after == {"date": day.isoformat(), "reason": "Inventario"}

    # Refused changes (another office; an invalid rule) write no audit record.
    before = await AuditEntry.all().count()
    assert_error(await client.put(f"/api/offices/{OTHER}/booking-rules", json=rule, headers=supervisor), 403)
    assert_error(await client.put(f"/api/offices/{OFFICE}/booking-rules", json={**rule, "slot_minutes": 0},
                                  headers=supervisor), 422)
    assert await AuditEntry.all().count() == before
