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


async def test_offices_filter_by_service(client):
    all_offices = (await client.get("/api/offices")).json()
    assert len(all_offices) >= 3
    with_saneamiento = (await client.get("/api/offices?service=SANEAMIENTO")).json()
    codes = {o["code"] for o in with_saneamiento}
    assert codes == {"LPZ-PRINCIPAL", "LPZ-ZONA-SUR"}
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
