"""Security checks of the payment server (issue 7), through its real HTTP surface.

The catalog here has two services that both sell a method called ``getInfo``, so that a
token of one service asked about the other's ``getInfo`` must still be refused.

- A token passes only at its own service and only for a method its bill bought.
- A denial says "denied" and nothing of what the token does cover.
- No secret is stored, logged or echoed in an error message.
- An unknown token is looked up by its digest with one equality on ``tokens.digest``: the time
  of the answer cannot depend on how much of a real token it shares. The timing figures are
  printed (``pytest -s -k timing``) and recorded in ``docs/reliability.md``, not asserted.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from paycheck_core import tokens
from paycheck_server import Settings
from paycheck_server import db as tables

from .conftest import Api

CATALOG = """
[[services]]
name = "Maps"
[[services.methods]]
name = "getInfo"
price_per_day = "1.00"
[[services.methods]]
name = "route"
price_per_day = "2.00"
[[services.methods]]
name = "adminReset"
price_per_day = "0"
private = true

[[services]]
name = "Shop"
[[services.methods]]
name = "getInfo"
price_per_day = "1.50"
[[services.methods]]
name = "buy"
price_per_day = "3.00"
[[services.methods]]
name = "search"
price_per_day = "0.50"
"""

MAPS_NAMES = ("Maps", "getInfo", "route", "adminReset")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG, encoding="utf-8")
    return Settings(database_url=database_url, catalog=catalog)


def everything_said(response: Any) -> str:
    """The body and every header value of an answer, as one text."""
    return str(response.text) + "\n" + "\n".join(response.headers.values())


# --- who may pass ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["getInfo", "buy", "search"])
async def test_a_token_of_one_service_never_passes_at_another(api: Api, method: str) -> None:
    token = await api.token(service="Maps", methods=["getInfo", "route"])

    response = await api.check(token, service="Shop", method=method)

    assert response.status_code == 403


NOT_BOUGHT = ["buy", "search", "GETINFO", "getinfo", "getInfo ", " getInfo", "getInfo\x00", "x"]


@pytest.mark.parametrize("method", NOT_BOUGHT, ids=repr)
async def test_a_method_not_bought_never_passes(api: Api, method: str) -> None:
    token = await api.token(service="Shop", methods=["getInfo"])

    response = await api.check(token, service="Shop", method=method)

    assert response.status_code == 403


async def test_the_bought_method_passes(api: Api) -> None:
    token = await api.token(service="Shop", methods=["getInfo"])

    response = await api.check(token, service="Shop", method="getInfo")

    assert response.status_code == 200


async def test_a_private_method_never_passes_even_with_every_method_bought(api: Api) -> None:
    token = await api.token(service="Maps")  # every method for sale

    response = await api.check(token, service="Maps", method="adminReset")

    assert response.status_code == 403


# --- what a check reveals -------------------------------------------------------------------

ASKED = [("Shop", "buy"), ("Shop", "search"), ("Nowhere", "nothing")]


@pytest.mark.parametrize(("service", "method"), ASKED)
async def test_a_denial_names_nothing_the_token_covers(api: Api, service: str, method: str) -> None:
    token = await api.token(service="Maps", methods=["getInfo", "route"])

    response = await api.check(token, service=service, method=method)

    assert response.status_code == 403
    said = everything_said(response)
    assert [name for name in MAPS_NAMES if name in said] == []


async def test_a_grant_names_only_what_was_asked(api: Api) -> None:
    token = await api.token(service="Maps", methods=["getInfo", "route"])

    response = await api.check(token, service="Maps", method="route")

    assert response.status_code == 200
    assert "getInfo" not in everything_said(response)


async def test_an_unknown_and_a_foreign_token_get_the_same_401_body(api: Api) -> None:
    paid = await api.token(service="Maps", methods=["getInfo"])
    artifact = await api.artifact(service="Maps", methods=["getInfo"])
    await api.pay(artifact)
    await api.reset(artifact)
    await api.reset(artifact)  # the first token of this bill stops at once

    unknown = await api.check(tokens.generate_token(), service="Maps", method="getInfo")
    malformed = await api.check("pct_nope", service="Maps", method="getInfo")

    assert unknown.status_code == malformed.status_code == 401
    assert unknown.json() == malformed.json() == {"description": "Invalid or expired token"}
    assert (await api.check(paid, service="Maps", method="getInfo")).status_code == 200


# --- secrets are never stored, logged or echoed ---------------------------------------------


async def all_rows_as_text(api: Api) -> str:
    async with api.app.state.paycheck.store.engine.connect() as connection:
        parts = []
        for table in tables.metadata.sorted_tables:
            parts += [repr(tuple(row)) for row in await connection.execute(select(table))]
    return "\n".join(parts)


async def test_no_secret_is_stored_logged_or_echoed_in_a_full_flow(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "3f0c8a4e-5b1d-4c7a-9e2f-6a8b0c1d2e3f"
    billed = await api.post(
        "/bill",
        {"serviceName": "Shop", "dateFrom": "2030-01-01", "dateTo": "2030-01-02"},
        **{"Idempotency-Key": key},
    )
    artifact = billed.json()["paymentArtifact"]
    first = await api.post("/pay", {"paymentArtifact": artifact}, **{"Idempotency-Key": key})
    second = await api.pay(artifact)
    reset = await api.reset(artifact)
    secrets = [artifact, key, first.json()["token"], second.json()["token"], reset.json()["token"]]
    errors = [
        await api.pay(secrets[2]),  # a token where the artifact goes
        await api.check(artifact, service="Shop", method="getInfo"),  # and the other way
        await api.pay(artifact[:-1]),
        await api.check(secrets[4][:-1], service="Shop", method="getInfo"),
        await api.reset(tokens.generate_artifact()),
    ]
    await api.post("/payment/info", {"paymentArtifact": artifact, "extra": secrets[4]})

    stored = await all_rows_as_text(api)
    assert "pct_" not in stored
    assert "pca_" not in stored
    for secret in secrets:
        assert secret not in stored
        assert tokens.digest(secret) in stored or secret == key
        assert secret not in caplog.text
    for answer in errors:
        assert answer.status_code in (401, 404)
        assert not any(secret[4:20] in answer.text for secret in secrets)


# --- lookups are by digest ------------------------------------------------------------------


@pytest.fixture
def statements(api: Api) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the app sends while the test runs, with its parameters."""
    seen: list[tuple[str, Any]] = []
    store = api.app.state.paycheck.store
    # The token check reads beside the engine (paycheck_server.fastread): SQLite through
    # sqlite3, whose trace gives each statement with its values written in; PostgreSQL
    # through a second engine.
    engines = [store.engine.sync_engine]
    if store.reads.read_engine is not None:
        engines.append(store.reads.read_engine.sync_engine)
    reader = store.reads.sqlite_reader

    def record(conn: Any, cursor: Any, sql: str, parameters: Any, *args: Any) -> None:
        seen.append((sql, parameters))

    def trace(sql: str) -> None:
        seen.append((sql, sql))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    if reader is not None:
        reader.trace = trace
    yield seen
    for engine in engines:
        event.remove(engine, "before_cursor_execute", record)
    if reader is not None:
        reader.trace = None


def token_near(token: str, step: int) -> str:
    """A well-formed token whose text shares all but the last few characters of ``token``."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    value = 0
    for char in token[4 : tokens.SECRET_LENGTH - 6]:
        value = value * 62 + alphabet.index(char)
    return tokens.secret_from_bytes(tokens.TOKEN_PREFIX, (value ^ step).to_bytes(32, "big"))


def shared_prefix(left: str, right: str) -> int:
    """How many leading characters ``left`` and ``right`` have in common."""
    return next(
        (i for i, (a, b) in enumerate(zip(left, right, strict=True)) if a != b),
        min(len(left), len(right)),
    )


async def test_an_unknown_token_is_looked_up_by_one_digest_equality(
    api: Api, statements: list[tuple[str, Any]]
) -> None:
    real = await api.token(service="Shop", methods=["getInfo"])
    near = token_near(real, 1)
    statements.clear()

    response = await api.check(near, service="Shop", method="getInfo")

    assert response.status_code == 401
    assert near[:40] == real[:40]
    queries = [(text, values) for text, values in statements if text.startswith("SELECT")]
    sql = [text for text, _ in queries]
    assert len(sql) == 1
    assert "tokens.digest = " in sql[0]
    for word in ("LIKE", "SUBSTR", "substring", "LEFT(", "<", ">"):
        assert word not in sql[0]
    parameters = repr(queries[0][1])
    assert tokens.digest(near) in parameters
    assert near not in parameters


async def test_a_malformed_token_is_refused_without_a_query(
    api: Api, statements: list[tuple[str, Any]]
) -> None:
    response = await api.check("pct_" + "a" * 49, service="Shop", method="getInfo")

    assert response.status_code == 401
    assert statements == []


async def test_timing_of_unknown_tokens_near_and_far_from_a_real_one(
    api: Api, settings: Settings
) -> None:
    """Prints the medians; the equality lookup above is what guarantees they match."""
    real = await api.token(service="Shop", methods=["getInfo"])
    rounds = 200
    near = [token_near(real, step) for step in range(1, rounds + 1)]
    far = [tokens.generate_token() for _ in range(rounds)]
    for _ in range(20):  # warm the connection pool and the statement caches first
        await api.check(tokens.generate_token(), service="Shop", method="getInfo")
    elapsed: dict[str, list[float]] = {"near": [], "far": []}
    for pair in zip(near, far, strict=True):  # interleaved, so that drift hits both alike
        for kind, token in zip(("near", "far"), pair, strict=True):
            started = time.perf_counter()
            response = await api.check(token, service="Shop", method="getInfo")
            elapsed[kind].append(time.perf_counter() - started)
            assert response.status_code == 401
    medians = {kind: statistics.median(values) * 1e6 for kind, values in elapsed.items()}
    database = settings.database_url.split(":", 1)[0]
    shared = min(shared_prefix(real, token) for token in near)
    print(  # the figures docs/reliability.md records
        f"\ntiming[{database}]: {rounds} unknown tokens each; median µs: "
        f"sharing at least {shared} of 53 characters with a real token {medians['near']:.0f}, "
        f"random {medians['far']:.0f}, ratio {medians['near'] / medians['far']:.3f}"
    )
