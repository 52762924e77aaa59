"""/openapi.json is a valid OpenAPI 3.1 document covering every /api route."""

from openapi_spec_validator import validate

from turnero.app import api_routes


async def test_openapi_document_is_valid_and_complete(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for route in api_routes():
        for method in route.methods - {"HEAD"}:
            assert (route.path, method.lower()) in documented
    issue = spec["paths"]["/api/offices/{office}/tickets"]["post"]
    assert issue["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/IssueTicket")
    assert set(issue["responses"]) >= {"201", "400", "401", "403", "404", "422"}
    assert "204" in spec["paths"]["/api/offices/{office}/desks/{desk}/call-next"]["post"]["responses"]
