"""The HTTP surface: error bodies, unknown routes, methods, body limit, health, catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from paycheck_server import Settings, create_app

from .conftest import Api


async def test_an_unknown_route_is_a_404_with_a_description(api: Api) -> None:
    response = await api.http.get("/nowhere")

    assert response.status_code == 404
    assert response.json() == {"description": "No such endpoint: GET /nowhere"}


async def test_a_wrong_method_is_a_405_naming_the_right_one(api: Api) -> None:
    response = await api.http.get("/bill")

    assert response.status_code == 405
    assert response.json() == {"description": "GET is not allowed on /bill; use POST"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tokens/{secret}"),
        ("GET", "/{secret}"),
        ("DELETE", "/token/check/../{secret}"),
        ("PUT", "/bill"),
        ("GET", "/pay"),
    ],
)
async def test_an_error_answer_never_echoes_a_secret_in_the_path(
    api: Api, method: str, path: str
) -> None:
    token = await api.token()
    for secret in (token, token.replace("_", "%5F", 1)):
        url = path.format(secret=secret) if "{secret}" in path else f"{path}/{secret}"
        response = await api.http.request(method, url)

        assert response.status_code in {404, 405}
        assert token[4:] not in response.text
        assert "[redacted]" in response.json()["description"]


async def test_a_body_that_is_not_json_is_a_400(api: Api) -> None:
    response = await api.http.post(
        "/bill", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json() == {"description": "The request body is not valid JSON"}


async def test_a_json_array_body_is_a_400(api: Api) -> None:
    response = await api.post("/pay", ["pca_x"])

    assert response.status_code == 400
    assert response.json()["description"].startswith("The request body must be a JSON object")


async def test_a_body_over_the_limit_is_a_413(api: Api) -> None:
    response = await api.post("/bill", {"serviceName": "x" * 70_000})

    assert response.status_code == 413
    assert response.json() == {"description": "The request body is larger than 65536 bytes"}


async def test_a_streamed_body_over_the_limit_is_a_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"serviceName": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = await api.http.post(
        "/bill", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413


async def test_healthz_answers_ok(api: Api) -> None:
    response = await api.http.get("/healthz")

    assert response.json() == {"status": "ok"}


async def test_readyz_answers_ready_when_the_database_answers(api: Api) -> None:
    response = await api.http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_readyz_is_a_503_when_the_database_cannot_be_reached() -> None:
    app = create_app(Settings(database_url="sqlite+aiosqlite:////nonexistent/dir/paycheck.db"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/readyz")
    await app.state.paycheck.aclose()

    assert response.status_code == 503
    assert response.json() == {"description": "The database cannot be reached"}


async def test_the_catalog_lists_prices_per_day_without_private_methods(api: Api) -> None:
    response = await api.http.get("/services")

    services = {service["serviceName"]: service for service in response.json()["services"]}
    assert services["Online marketplace"]["currency"] == "USD"
    assert services["Online marketplace"]["methods"][0] == {
        "methodName": "getInfo",
        "pricePerDay": 1.2,
    }
    weather = [method["methodName"] for method in services["Weather"]["methods"]]
    assert weather == ["getForecast", "getHistory"]


@pytest.mark.parametrize("path", ["/bill", "/pay", "/payment/info", "/token/reset"])
async def test_every_client_endpoint_answers_errors_as_a_description(api: Api, path: str) -> None:
    response = await api.post(path, {})

    assert response.status_code == 400
    assert set(response.json()) == {"description"}
