"""POST /bill: prices, periods, catalog lookups and the shape of the answer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from paycheck_core import tokens
from paycheck_server import db as tables

from .conftest import TODAY, Api


async def test_a_bill_prices_each_method_per_day_and_sums_the_lines(api: Api) -> None:
    response = await api.bill(methods=["getInfo", "search"], date_to=TODAY + timedelta(days=9))

    assert response.status_code == 200
    body = response.json()
    assert body["methods"] == [
        {"methodName": "getInfo", "price": 12.0},
        {"methodName": "search", "price": 25.0},
    ]
    assert body["totalPrice"] == 37.0
    assert body["currency"] == "USD"
    assert body["status"] == "unpaid"


async def test_a_bill_without_methods_buys_every_method_for_sale(api: Api) -> None:
    response = await api.bill(service="Weather", date_to=TODAY)

    assert [line["methodName"] for line in response.json()["methods"]] == [
        "getForecast",
        "getHistory",
    ]
    assert response.json()["totalPrice"] == 1.25


async def test_a_one_day_period_is_charged_one_day(api: Api) -> None:
    response = await api.bill(methods=["placeOrder"], date_to=TODAY)

    assert response.json()["totalPrice"] == 4.99


async def test_the_artifact_is_well_formed_and_stored_only_as_its_digest(api: Api) -> None:
    response = await api.bill()
    artifact = response.json()["paymentArtifact"]

    assert tokens.is_well_formed(artifact, prefix=tokens.ARTIFACT_PREFIX)
    async with api.app.state.paycheck.store.engine.connect() as connection:
        stored = await connection.scalar(select(tables.bills.c.artifact_digest))
    assert stored == tokens.digest(artifact)


async def test_the_bill_expires_after_the_configured_ttl(api: Api) -> None:
    body = (await api.bill()).json()

    assert body["expiresAt"] == "2030-01-02T12:00:00Z"
    assert body["billId"].startswith("bill_")


async def test_a_bill_answer_is_not_cacheable(api: Api) -> None:
    response = await api.bill()

    assert response.headers["cache-control"] == "no-store"


async def test_an_unknown_service_is_a_404_naming_it(api: Api) -> None:
    response = await api.bill(service="Teleport")

    assert response.status_code == 404
    assert response.json() == {"description": "Service 'Teleport' not found"}


async def test_an_unknown_method_is_a_404_naming_it(api: Api) -> None:
    response = await api.bill(methods=["getInfo", "fly"])

    assert response.status_code == 404
    assert response.json() == {
        "description": "Method 'fly' of service 'Online marketplace' not found"
    }


async def test_a_private_method_is_not_for_sale(api: Api) -> None:
    response = await api.bill(service="Weather", methods=["recalibrateSensors"])

    assert response.status_code == 404
    assert "recalibrateSensors" in response.json()["description"]


async def test_a_past_date_from_is_a_400(api: Api) -> None:
    response = await api.bill(date_from=TODAY - timedelta(days=1), date_to=TODAY)

    assert response.status_code == 400
    assert response.json()["description"].startswith("dateFrom (2029-12-31) is in the past")


async def test_date_to_before_date_from_is_a_400(api: Api) -> None:
    response = await api.bill(date_from=TODAY + timedelta(days=2), date_to=TODAY)

    assert response.status_code == 400
    assert "dateTo (2030-01-01) must not be before dateFrom" in response.json()["description"]


async def test_a_period_longer_than_the_maximum_is_a_400(api: Api) -> None:
    response = await api.bill(date_to=TODAY + timedelta(days=366))

    assert response.status_code == 400
    assert "367 days long; at most 366 days" in response.json()["description"]


async def test_an_empty_methods_list_is_a_400(api: Api) -> None:
    response = await api.bill(methods=[])

    assert response.status_code == 400
    assert response.json()["description"].startswith("methods must not be empty")


async def test_a_missing_service_name_is_a_400_naming_it(api: Api) -> None:
    response = await api.post("/bill", {"dateFrom": "2030-01-01", "dateTo": "2030-01-02"})

    assert response.status_code == 400
    assert response.json() == {"description": "serviceName is required"}


async def test_a_malformed_date_is_a_400_naming_the_field(api: Api) -> None:
    response = await api.post(
        "/bill", {"serviceName": "Weather", "dateFrom": "tomorrow", "dateTo": "2030-01-02"}
    )

    assert response.status_code == 400
    assert response.json()["description"].startswith("dateFrom: Input should be a valid date")
