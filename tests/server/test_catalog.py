"""Catalog sources: the demo catalog, TOML/JSON files, and the seed's service registry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from paycheck_server import Settings, create_app
from paycheck_server.catalog import (
    CatalogError,
    demo_catalog,
    load_catalog_file,
    parse_registry,
    price_to_minor,
)
from paycheck_server.migrate import upgrade
from paycheck_server.registry import RegistryCatalog

REGISTRY = [
    {
        "id": 1,
        "serviceName": "Online marketplace",
        "methods": [
            {"id": 1, "methodName": "getInfo", "price": 10.5, "isPrivate": False},
            {"id": 2, "methodName": "purge", "price": 0, "isPrivate": True, "arguments": []},
        ],
    }
]


def test_the_demo_catalog_sells_the_seeds_marketplace_and_more() -> None:
    catalog = demo_catalog()

    marketplace = catalog.service("Online marketplace")
    assert marketplace is not None
    assert marketplace.method_for_sale("getInfo") is not None
    assert len(catalog.services) >= 2
    assert all(len(service.methods_for_sale) >= 2 for service in catalog.services)


def test_the_demo_catalog_has_a_private_method_that_is_not_for_sale() -> None:
    weather = demo_catalog().service("Weather")

    assert weather is not None
    assert weather.method_for_sale("recalibrateSensors") is None


def test_a_toml_catalog_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        '[[services]]\nname = "Maps"\n[[services.methods]]\nname = "route"\n'
        'price_per_day = "0.99"\n'
    )

    service = load_catalog_file(path).service("Maps")

    assert service is not None
    assert service.methods[0].price_per_day_minor == 99


def test_a_json_catalog_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps(
            {"services": [{"name": "Maps", "methods": [{"name": "route", "price_per_day": 2}]}]}
        )
    )

    assert load_catalog_file(path).service("Maps") is not None


def test_a_saved_registry_answer_works_as_a_catalog_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(REGISTRY))

    assert load_catalog_file(path).service("Online marketplace") is not None


def test_a_catalog_file_with_a_bad_price_names_the_method(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"services": [{"name": "M", "methods": [{"name": "r"}]}]}))

    with pytest.raises(CatalogError, match=r"services\[0\]\.methods\[0\]"):
        load_catalog_file(path)


def test_a_missing_catalog_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog_file(tmp_path / "absent.toml")


@pytest.mark.parametrize("price", ["-1", "1.234", "abc", True, None])
def test_a_price_must_be_money(price: object) -> None:
    with pytest.raises(CatalogError):
        price_to_minor(price, where="test")


def test_the_registry_format_keeps_private_methods_out_of_sale() -> None:
    service = parse_registry(REGISTRY, source="test").service("Online marketplace")

    assert service is not None
    assert [method.name for method in service.methods_for_sale] == ["getInfo"]
    assert service.methods_for_sale[0].price_per_day_minor == 1050


async def test_the_registry_catalog_reads_all_services() -> None:
    transport = httpx.MockTransport(
        lambda request: (
            httpx.Response(200, json=REGISTRY)
            if request.url.path == "/allServices"
            else httpx.Response(404)
        )
    )
    registry = RegistryCatalog("http://registry.test", transport=transport)

    assert await registry.refresh() is True
    assert registry.catalog is not None
    assert registry.catalog.service("Online marketplace") is not None
    await registry.aclose()


async def test_the_registry_catalog_keeps_the_last_good_copy_when_the_registry_fails() -> None:
    answers = iter([httpx.Response(200, json=REGISTRY), httpx.Response(503)])
    registry = RegistryCatalog(
        "http://registry.test", transport=httpx.MockTransport(lambda request: next(answers))
    )
    await registry.refresh()

    assert await registry.refresh() is False
    assert registry.catalog is not None
    assert registry.catalog.service("Online marketplace") is not None
    assert registry.last_error is not None
    await registry.aclose()


async def test_a_registry_answer_in_another_format_is_not_taken() -> None:
    registry = RegistryCatalog(
        "http://registry.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json={"x": 1})),
    )

    assert await registry.refresh() is False
    assert registry.catalog is None
    await registry.aclose()


def test_a_registry_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        RegistryCatalog("ftp://registry")


async def test_a_server_whose_registry_never_answered_is_not_ready(tmp_path: Path) -> None:
    registry = RegistryCatalog(
        "http://registry.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'paycheck.db'}")
    app = create_app(settings, catalogs=registry)
    await upgrade(app.state.paycheck.store.engine)
    await registry.refresh()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        ready = await http.get("/readyz")
        bill = await http.post(
            "/bill",
            json={"serviceName": "Weather", "dateFrom": "2099-01-01", "dateTo": "2099-01-01"},
        )
    await app.state.paycheck.aclose()

    assert ready.status_code == 503
    assert bill.status_code == 503
    assert "catalog is not loaded yet" in bill.json()["description"]


async def test_a_server_sells_what_the_registry_lists(tmp_path: Path) -> None:
    registry = RegistryCatalog(
        "http://registry.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=REGISTRY)),
    )
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'paycheck.db'}")
    app = create_app(settings, catalogs=registry)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        await registry.refresh()
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            services = (await http.get("/services")).json()["services"]

    assert services == [
        {
            "serviceName": "Online marketplace",
            "currency": "USD",
            "methods": [{"methodName": "getInfo", "pricePerDay": 10.5}],
        }
    ]
