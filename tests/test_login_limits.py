"""Repeated failed sign-ins are refused for a while (429), for the API and the login form."""


async def test_too_many_failed_logins_for_a_user_get_429_even_with_the_right_password(client):
    for _ in range(10):
        response = await client.post("/api/auth/token", json={"username": "operador1", "password": "wrong"})
        assert response.status_code == 401
    refused = await client.post("/api/auth/token", json={"username": "operador1", "password": "demo"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_attempts"
    # Another user from the same client is still let in (30 per client).
    assert (await client.post("/api/auth/token", json={"username": "operador2", "password": "demo"})).status_code == 200


async def test_successful_logins_are_not_counted(client):
    for _ in range(12):
        response = await client.post("/api/auth/token", json={"username": "kiosko", "password": "demo"})
        assert response.status_code == 200


async def test_login_form_is_limited_too(client):
    for _ in range(10):
        response = await client.post("/login", data={"username": "supervisor", "password": "x"})
        assert response.status_code == 401
    response = await client.post("/login", data={"username": "supervisor", "password": "demo"})
    assert response.status_code == 429
    assert "Demasiados intentos" in response.text
