"""The behaviour every adapter promises (issue 4), run against each of them.

The ``harness`` fixture (conftest) gives the ASGI middleware on Starlette and on FastAPI, the
FastAPI dependency, the WSGI middleware and the Flask extension in turn, each in front of
the same routes and of the same scripted payment server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from .conftest import SERVICE, Harness, Reply, bearer

REALM = f'Bearer realm="{SERVICE}"'


def assert_refused(harness: Harness, reply: Reply, status: int, error: str | None) -> str:
    """``reply`` refuses the request as RFC 6750 says; its description is returned."""
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert list(body) == ["description"]
    assert isinstance(body["description"], str)
    assert body["description"]
    challenge = reply.headers.get("www-authenticate")
    if status == 503:
        assert challenge is None
    elif error is None:
        assert challenge == REALM
    else:
        assert challenge.startswith(f'{REALM}, error="{error}", error_description="')
    assert harness.handled == []
    return str(body["description"])


# --- no token, or not a usable Authorization header ---------------------------------------


async def test_a_request_without_a_token_gets_401_with_the_realm(harness: Harness) -> None:
    reply = await harness.get("/getInfo")

    description = assert_refused(harness, reply, 401, error=None)
    assert "Authorization: Bearer" in description
    assert harness.payments.calls == 0


NO_BEARER_CREDENTIALS = {
    "basic": [(b"authorization", b"Basic dXNlcjpwYXNz")],
    "digest": [(b"authorization", b'Digest username="u", realm="r", nonce="n", response="x"')],
    "another scheme": [(b"authorization", b"Token pct_abc")],
    "empty header": [(b"authorization", b"")],
}


@pytest.mark.parametrize(
    "headers", NO_BEARER_CREDENTIALS.values(), ids=NO_BEARER_CREDENTIALS.keys()
)
async def test_a_request_without_bearer_credentials_gets_401_with_the_bare_challenge(
    harness: Harness, headers: list[tuple[bytes, bytes]]
) -> None:
    # RFC 6750 3.1: credentials of another scheme are no Bearer credentials: 401 and the
    # challenge alone, as for a request that sends none.
    reply = await harness.request("GET", "/getInfo", headers)

    description = assert_refused(harness, reply, 401, error=None)
    assert "Bearer" in description
    assert harness.payments.calls == 0


MALFORMED = {
    "scheme only": [(b"authorization", b"Bearer")],
    "scheme and spaces": [(b"authorization", b"Bearer    ")],
    "two words": [(b"authorization", b"Bearer pct_one pct_two")],
    "not ascii": [(b"authorization", "Bearer pct_é".encode())],
    "latin-1 byte": [(b"authorization", b"Bearer pct_\xff")],
    "10 KB token": [(b"authorization", b"Bearer " + b"a" * 10_240)],
    "two headers": [(b"authorization", b"Bearer pct_one"), (b"authorization", b"Bearer pct_two")],
}


@pytest.mark.parametrize("headers", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_authorization_header_is_an_invalid_request(
    harness: Harness, headers: list[tuple[bytes, bytes]]
) -> None:
    reply = await harness.request("GET", "/getInfo", headers)

    assert_refused(harness, reply, 400, error="invalid_request")
    assert harness.payments.calls == 0


async def test_the_bearer_scheme_is_matched_whatever_its_case(harness: Harness) -> None:
    token = harness.payments.sell("getInfo")

    reply = await harness.request(
        "GET", "/getInfo", [(b"authorization", f"bEaReR {token}".encode())]
    )

    assert reply.status == 200


# --- the payment server's answers ---------------------------------------------------------


async def test_a_token_the_server_rejects_gets_401_invalid_token(harness: Harness) -> None:
    unknown = harness.payments.sell()
    del harness.payments.grants[unknown]

    reply = await harness.get("/getInfo", unknown)

    assert assert_refused(harness, reply, 401, error="invalid_token") == "Invalid or expired token"
    assert 'error_description="Invalid or expired token"' in reply.headers["www-authenticate"]


async def test_a_malformed_token_gets_401_without_asking_the_server(harness: Harness) -> None:
    reply = await harness.get("/getInfo", "not-a-paycheck-token")

    assert_refused(harness, reply, 401, error="invalid_token")
    assert harness.payments.calls == 0


async def test_a_token_without_the_method_gets_403_insufficient_scope(harness: Harness) -> None:
    token = harness.payments.sell("getStats")

    reply = await harness.get("/getInfo", token)

    assert_refused(harness, reply, 403, error="insufficient_scope")
    assert harness.payments.checks[0]["methodName"] == "getInfo"
    assert harness.payments.checks[0]["serviceName"] == SERVICE


async def test_a_check_the_payment_server_calls_malformed_is_refused_not_an_outage(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    token = harness.payments.sell("getInfo")
    harness.payments.failure = "400"

    reply = await harness.get("/getInfo", token)

    description = assert_refused(harness, reply, 400, error="invalid_request")
    assert description == "token: String should match the contract"  # the server's own words
    assert reply.headers.get("retry-after") is None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_method_name_too_long_to_buy_is_refused_without_asking_the_server(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # The middlewares name a request by its path's last segment when no route names it; the
    # payment server answers 400 to a methodName of more than 200 characters.
    token = harness.payments.sell("getInfo")

    reply = await harness.get("/" + "m" * 201, token)

    assert harness.payments.calls == 0
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    if harness.name in {"fastapi-dependency", "flask-extension"}:
        assert reply.status == 404  # no route matches, and the route names the method
    else:
        assert "200 characters" in assert_refused(harness, reply, 400, error="invalid_request")


async def test_a_method_name_of_200_characters_is_checked(harness: Harness) -> None:
    token = harness.payments.sell("m" * 200)

    reply = await harness.get("/" + "m" * 200, token)

    assert reply.status == 404  # no route answers it (behind a middleware: once granted)
    if harness.name not in {"fastapi-dependency", "flask-extension"}:
        assert [check["methodName"] for check in harness.payments.checks] == ["m" * 200]


@pytest.mark.parametrize("failure", ["down", "timeout", "5xx"])
async def test_an_unavailable_server_gets_503_and_nothing_is_cached(
    harness: Harness, failure: str
) -> None:
    token = harness.payments.sell("getInfo")
    harness.payments.failure = failure

    refused = await harness.get("/getInfo", token)
    assert_refused(harness, refused, 503, error=None)
    assert refused.headers["retry-after"] == "5"

    harness.payments.failure = None
    recovered = await harness.get("/getInfo", token)
    assert recovered.status == 200
    assert harness.payments.calls == 2


# --- requests that need no token ----------------------------------------------------------


ORIGIN = (b"origin", b"https://shop.example")
REQUEST_METHOD = (b"access-control-request-method", b"GET")
NOT_PREFLIGHTS = {"bare": [], "origin only": [ORIGIN], "request method only": [REQUEST_METHOD]}


@pytest.mark.parametrize("headers", NOT_PREFLIGHTS.values(), ids=NOT_PREFLIGHTS.keys())
async def test_an_options_request_that_is_not_a_preflight_needs_a_token(
    harness: Harness, headers: list[tuple[bytes, bytes]]
) -> None:
    # /getInfo answers OPTIONS with its paid body: only a token may reach it.
    reply = await harness.request("OPTIONS", "/getInfo", headers)

    assert_refused(harness, reply, 401, error=None)
    assert harness.payments.calls == 0


async def test_an_options_request_with_a_paid_token_reaches_the_route(harness: Harness) -> None:
    token = harness.payments.sell("getInfo")

    reply = await harness.request("OPTIONS", "/getInfo", bearer(token))

    assert reply.status == 200
    assert reply.json() == {"method": "getInfo"}


@pytest.mark.parametrize("path", ["/getInfo", "/getStats"], ids=["lists OPTIONS", "GET only"])
async def test_a_preflight_passes_without_a_token_but_its_answer_has_no_body(
    harness: Harness, path: str
) -> None:
    reply = await harness.request("OPTIONS", path, [ORIGIN, REQUEST_METHOD])

    assert reply.status < 500
    assert reply.status not in {400, 401, 403}
    assert b"method" not in reply.body  # never the handler's paid body
    assert harness.payments.calls == 0
    if harness.name != "fastapi-dependency":
        # Passed on for the CORS layer or the route to answer; its answer loses its body.
        assert reply.body == b""
        assert reply.headers.get("content-length", "0") == "0"
    elif path == "/getInfo":
        # The dependency answers it before the handler (CORSMiddleware would have, earlier).
        assert reply.status == 204
        assert harness.handled == []
    else:
        assert reply.status == 405  # FastAPI's answer: the route does not take OPTIONS


@pytest.mark.parametrize("path", ["/public", "/docs/page"], ids=["exact", "prefix"])
async def test_an_excluded_path_passes_without_a_token(harness: Harness, path: str) -> None:
    reply = await harness.get(path)

    assert reply.status == 200
    assert reply.json() == {"method": None}
    assert harness.handled == [path]


# --- granted requests and the cache -------------------------------------------------------


async def test_a_paid_token_reaches_the_handler_with_its_grant(harness: Harness) -> None:
    token = harness.payments.sell("getInfo")

    reply = await harness.get("/getInfo", token)

    assert reply.status == 200
    assert reply.json() == {"method": "getInfo"}
    assert harness.handled == ["/getInfo"]
    assert harness.payments.checks == [
        {"token": token, "serviceName": SERVICE, "methodName": "getInfo"}
    ]


async def test_a_cache_hit_makes_no_network_call(harness: Harness) -> None:
    token = harness.payments.sell("getInfo")

    first = await harness.get("/getInfo", token)
    second = await harness.get("/getInfo", token)

    assert (first.status, second.status) == (200, 200)
    assert harness.payments.calls == 1


CACHED_TOKEN_IN_A_BAD_HEADER = {
    "two words": lambda token: [(b"authorization", f"Bearer {token} {token}".encode())],
    "two headers": lambda token: [(b"authorization", f"Bearer {token}".encode())] * 2,
}


@pytest.mark.parametrize(
    "bad_headers", CACHED_TOKEN_IN_A_BAD_HEADER.values(), ids=CACHED_TOKEN_IN_A_BAD_HEADER.keys()
)
async def test_a_cached_token_in_a_malformed_header_is_still_an_invalid_request(
    harness: Harness, bad_headers: Callable[[str], list[tuple[bytes, bytes]]]
) -> None:
    token = harness.payments.sell("getInfo")
    assert (await harness.get("/getInfo", token)).status == 200
    harness.handled.clear()

    reply = await harness.request("GET", "/getInfo", bad_headers(token))

    assert_refused(harness, reply, 400, error="invalid_request")


async def test_concurrent_first_requests_with_one_token_make_one_call(harness: Harness) -> None:
    token = harness.payments.sell("getInfo")
    harness.payments.hold_until_misses = 6

    replies = await asyncio.gather(*(harness.get("/getInfo", token) for _ in range(6)))

    assert [reply.status for reply in replies] == [200] * 6
    assert harness.payments.calls == 1


async def test_each_method_is_checked_on_its_own(harness: Harness) -> None:
    token = harness.payments.sell("getInfo")

    granted = await harness.get("/getInfo", token)
    refused = await harness.request("GET", "/getStats", bearer(token))

    assert (granted.status, refused.status) == (200, 403)
    assert [check["methodName"] for check in harness.payments.checks] == ["getInfo", "getStats"]


async def test_a_preflight_after_a_paid_options_request_still_needs_no_token(
    harness: Harness,
) -> None:
    token = harness.payments.sell("getInfo")
    paid = await harness.request("OPTIONS", "/getInfo", bearer(token))

    preflight = await harness.request("OPTIONS", "/getInfo", [ORIGIN, REQUEST_METHOD])

    assert paid.status == 200
    assert preflight.status in {200, 204}
    assert preflight.body == b""
