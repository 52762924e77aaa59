"""The public catalogue endpoints."""

from tests.conftest import login


async def test_services_list_the_demo_catalogue(client):
    response = await client.get("/api/services")
    assert response.status_code == 200
    services = {s["code"]: s for s in response.json()}
    assert services["CI-RENOV"]["prefix"] == "C"
    assert services["CI-NUEVO"]["steps"] == ["DESCARTE", "CAPTURA", "ENTREGA"]
    assert services["EXAM-TEORICO"]["kind"] == "exam"
    assert services["EXAM-TEORICO"]["walk_in"] is False
    assert all(isinstance(s["requirements"], list) for s in services.values())


async def test_every_trámite_says_what_it_costs_who_is_exempt_and_what_documents_it_takes(client):
    services = {s["code"]: s for s in (await client.get("/api/services")).json()}
    # The seeds' most frequent CI trámite, the free CIE, DIGEMIG's and SEGELIC's kinds.
    for code in ("CI-REPOSICION", "CI-MENOR", "CIE-RENOV", "CIE-REFUGIO", "LIC-DUPLICADO", "LIC-CANJE",
                 "LIC-CORTESIA", "LIC-CATEGORIA", "SANEAMIENTO-RA", "VISA", "NATURALIZACION", "CERT-APOSTILLA",
                 "DOC-VIAJE-REFUGIO", "TVF", "DEF", "LIBRETA-TRIPULANTE", "CARTA-INVITACION", "CONDONACION"):
        assert code in services, code
    for service in services.values():
        assert service["fee_bs"] is None or service["fee_bs"] >= 0
        assert service["fee_note"], service["code"]  # a figure, "free", or "not published" — and how to pay
        assert set(service["documents"]) <= {"ci", "cie", "passport"}
        assert service["requirements"], service["code"]  # step services say what they check too
    assert services["CIE"]["fee_bs"] == 548.0 and services["LIC-CORTESIA"]["fee_bs"] == 50.0
    assert services["CIE-REFUGIO"]["fee_bs"] == 0.0
    assert services["CIE"]["exemptions"] and "refugiadas" in services["CIE"]["exemptions"][0]
    # No invented figure: where the sources give none, the data says so.
    assert services["CI-RENOV"]["fee_bs"] is None and "no publicado" in services["CI-RENOV"]["fee_note"]
    # Requirements belong to their trámite: the renewal no longer lists the first CI's.
    assert not any("primera vez" in r for r in services["CI-RENOV"]["requirements"])


async def test_offices_filter_by_service(client):
    all_offices = (await client.get("/api/offices")).json()
    assert len(all_offices) >= 3
    with_saneamiento = (await client.get("/api/offices?service=SANEAMIENTO")).json()
    codes = {o["code"] for o in with_saneamiento}
    assert codes == {"LPZ-PRINCIPAL", "LPZ-TELEFERICO-ROJO", "LPZ-ZONA-SUR", "LPZ-SANTA-ROSA", "LPZ-CARANAVI",
                     "LPZ-CENTRO-CELESTE"}  # the seeds' 6 of the 11 La Paz offices that do it
    assert all("SANEAMIENTO" in o["services"] for o in with_saneamiento)


async def test_offices_filter_by_unknown_service_is_404(client):
    response = await client.get("/api/offices?service=NOPE")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "service_not_found"


async def test_token_roles_and_offices(client):
    response = await client.post("/api/auth/token", json={"username": "kiosko", "password": "demo"})
    body = response.json()
    assert response.status_code == 200
    assert body["role"] == "kiosk" and body["office"] == "LPZ-PRINCIPAL"
    assert len(body["token"]) >= 32
    admin = (await client.post("/api/auth/token", json={"username": "admin", "password": "demo"})).json()
    assert admin["role"] == "admin" and admin["office"] is None
    assert await login(client, "supervisor")


async def test_the_portal_and_the_kiosk_say_what_each_trámite_costs(client):
    portal = (await client.get("/citas")).text
    assert "Costo: Bs 548, pagado antes (Banco Unión o UNIMOVIL)" in portal  # the CIE
    assert "Costo: monto no publicado; consúltelo en la oficina" in portal  # CI renewal: no figure
    client.cookies.clear()
    assert (await client.post("/login", data={"username": "kiosko", "password": "demo"})).status_code == 303
    kiosk = (await client.get("/kiosk/LPZ-PRINCIPAL")).text
    assert "Costo: monto no publicado" in kiosk
    assert kiosk.count('class="req-cost"') >= 5  # one line per walk-in trámite
