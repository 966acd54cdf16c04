"""The framework-free rules every adapter shares: header parsing, exemptions, names, denials."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

import pytest
import yaml

from paycheck_core import (
    AccessDecision,
    BadRequestError,
    NotFoundError,
    PaymentServiceUnavailable,
)
from paycheck_integrations._common import (
    MAX_AUTHORIZATION_LENGTH,
    MAX_METHOD_NAME_LENGTH,
    MAX_SERVICE_NAME_LENGTH,
    Denials,
    Exemptions,
    MethodNames,
    NameMemo,
    Problem,
    asgi_authorization,
    asgi_preflight,
    bearer_token,
    wsgi_preflight,
)

ROOT = Path(__file__).resolve().parents[2]

# --- Authorization ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["Bearer pct_abc", "bearer pct_abc", "BEARER pct_abc", "Bearer   pct_abc", " Bearer pct_abc "],
)
def test_a_bearer_header_gives_its_token(value: str) -> None:
    assert bearer_token(value) == "pct_abc"


def test_a_token_may_hold_every_b64token_character() -> None:
    token = "aZ09-._~+/=="
    assert bearer_token(f"Bearer {token}") == token


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, Problem.MISSING),
        ("", Problem.NOT_BEARER),
        ("Basic dXNlcjpwYXNz", Problem.NOT_BEARER),
        ("Bearerpct_abc", Problem.NOT_BEARER),
        ("Token pct_abc", Problem.NOT_BEARER),
        ("Bearer", Problem.NO_TOKEN),
        ("Bearer    ", Problem.NO_TOKEN),
        ("Bearer pct_a pct_b", Problem.MALFORMED),
        ("Bearer pct_é", Problem.MALFORMED),
        ("Bearer pct_\xa0", Problem.MALFORMED),
        ("Bearer =pct", Problem.MALFORMED),
        ("Bearer pct_a, Bearer pct_b", Problem.SEVERAL),
        ("Basic x, Bearer pct_b", Problem.NOT_BEARER),
        ("Bearer " + "a" * MAX_AUTHORIZATION_LENGTH, Problem.TOO_LONG),
    ],
)
def test_an_unusable_header_has_its_problem(value: str | None, problem: Problem) -> None:
    assert bearer_token(value) is problem


def test_asgi_headers_give_the_one_authorization_value() -> None:
    headers = [(b"host", b"service.test"), (b"authorization", b"Bearer pct_\xff")]
    assert asgi_authorization(headers) == "Bearer pct_\xff"


def test_asgi_headers_without_authorization_give_none() -> None:
    assert asgi_authorization([(b"host", b"service.test")]) is None


def test_two_asgi_authorization_headers_are_several() -> None:
    headers = [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer a")]
    assert bearer_token(asgi_authorization(headers)) is Problem.SEVERAL


# --- exemptions ---------------------------------------------------------------------------


def test_an_exact_path_is_exempt_and_nothing_below_it() -> None:
    exempt = Exemptions(["/health"])
    assert exempt("/health")
    assert not exempt("/health/deep")
    assert not exempt("/healthy")


def test_a_prefix_exempts_every_path_that_starts_with_it() -> None:
    exempt = Exemptions(["/docs*"])
    assert exempt("/docs")
    assert exempt("/docs/oauth2-redirect")
    assert exempt("/docsearch")
    assert not exempt("/getInfo")


def test_no_exemption_protects_everything() -> None:
    assert not Exemptions()("/")


ORIGIN = (b"origin", b"https://shop.example")
REQUEST_METHOD = (b"access-control-request-method", b"POST")


@pytest.mark.parametrize(
    ("headers", "preflight"),
    [
        ([ORIGIN, REQUEST_METHOD], True),
        ([(b"host", b"service.test"), REQUEST_METHOD, ORIGIN], True),
        ([], False),
        ([ORIGIN], False),
        ([REQUEST_METHOD], False),
        ([(b"access-control-request-headers", b"authorization"), ORIGIN], False),
    ],
)
def test_a_preflight_carries_origin_and_the_requested_method(
    headers: list[tuple[bytes, bytes]], preflight: bool
) -> None:
    environ = {f"HTTP_{name.decode().upper().replace('-', '_')}": "x" for name, _ in headers}
    assert asgi_preflight(headers) is preflight
    assert wsgi_preflight(environ) is preflight


# --- method names -------------------------------------------------------------------------


def test_a_path_template_maps_every_matching_path() -> None:
    names = MethodNames({"/items/{id}": "getItem"})
    assert names.resolve("GET", "/items/42") == "getItem"
    assert names.resolve("GET", "/items/42/extra") == "extra"


def test_a_path_parameter_may_span_segments() -> None:
    names = MethodNames({"/files/{rest:path}": "getFile"})
    assert names.resolve("GET", "/files/a/b/c.txt") == "getFile"


def test_a_template_with_an_http_method_wins_over_one_without() -> None:
    names = MethodNames({"/items": "listItems", "POST /items": "addItem"})
    assert names.resolve("POST", "/items") == "addItem"
    assert names.resolve("GET", "/items") == "listItems"


def test_template_literals_are_not_patterns() -> None:
    names = MethodNames({"/a.b": "dotted"})
    assert names.resolve("GET", "/axb") == "axb"
    assert names.resolve("GET", "/a.b") == "dotted"


def test_a_callable_names_the_method_or_defers_with_none() -> None:
    names = MethodNames(lambda method, path: "writeAny" if method == "POST" else None)
    assert names.name("POST", "/x", "routeName") == "writeAny"
    assert names.name("GET", "/x", "routeName") == "routeName"


def test_the_route_name_comes_before_the_last_segment() -> None:
    names = MethodNames()
    assert names.name("GET", "/v1/info", "getInfo") == "getInfo"
    assert names.name("GET", "/v1/info/") == "info"


def test_the_root_path_is_the_index_method() -> None:
    assert MethodNames().resolve("GET", "/") == "index"


def test_a_resolved_name_is_remembered_per_http_method_and_path() -> None:
    calls: list[tuple[str, str]] = []

    def name(method: str, path: str) -> str:
        calls.append((method, path))
        return "named"

    names = MethodNames(name)
    assert names.cached("GET", "/x") is None
    names.resolve("GET", "/x")
    assert names.cached("GET", "/x") == "named"
    assert names.cached("POST", "/x") is None
    assert calls == [("GET", "/x")]


def test_the_memory_of_names_is_bounded() -> None:
    names = MethodNames(maxsize=2)
    for path in ("/a", "/b", "/c"):
        names.resolve("GET", path)
    assert names.cached("GET", "/a") is None
    assert names.cached("GET", "/c") == "c"


def test_a_name_memo_forgets_its_oldest_entry_when_full() -> None:
    memo = NameMemo(maxsize=2)
    for key in ("a", "b", "c"):
        memo.remember(("GET", "", key), key)
    assert list(memo) == [("GET", "", "b"), ("GET", "", "c")]


def test_a_name_memo_evicts_safely_from_many_threads_at_once() -> None:
    # WSGI servers name requests in threads; two evicting the same oldest entry raised
    # KeyError (a 500), which a flood of distinct paths made likely.
    memo = NameMemo(maxsize=8)
    errors: list[BaseException] = []

    def fill(thread: int) -> None:
        try:
            for i in range(20_000):
                memo.remember((thread, i), "x")
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=fill, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    assert errors == []
    assert len(memo) <= 8 + len(threads)  # bounded, give or take one entry per racing thread


def test_a_method_name_too_long_to_buy_is_refused_at_configuration() -> None:
    too_long = "m" * (MAX_METHOD_NAME_LENGTH + 1)
    with pytest.raises(ValueError, match=f"at most {MAX_METHOD_NAME_LENGTH} characters"):
        MethodNames({"/items": too_long})
    assert MethodNames({"/items": "m" * MAX_METHOD_NAME_LENGTH}).resolve("GET", "/items")


def test_a_callable_may_name_a_method_too_long_to_buy_for_the_adapter_to_refuse() -> None:
    too_long = "m" * (MAX_METHOD_NAME_LENGTH + 1)
    assert MethodNames(lambda method, path: too_long).name("GET", "/x") == too_long


def test_the_name_limits_are_those_of_the_payment_servers_contract() -> None:
    contract = yaml.safe_load((ROOT / "docs/openapi/service.yml").read_text())
    check = contract["components"]["schemas"]["TokenCheckRequest"]["properties"]
    assert check["methodName"]["maxLength"] == MAX_METHOD_NAME_LENGTH
    assert check["serviceName"]["maxLength"] == MAX_SERVICE_NAME_LENGTH


@pytest.mark.parametrize(
    "methods",
    [{"items": "x"}, {"/items": ""}, {"GE-T /items": "x"}, {"/items": 3}, 42],
    ids=["relative", "empty name", "bad method", "not a str", "not a mapping"],
)
def test_a_bad_methods_option_is_refused(methods: object) -> None:
    with pytest.raises(ValueError, match="methods"):
        MethodNames(methods)  # type: ignore[arg-type]


def test_a_callable_returning_a_non_name_is_an_error() -> None:
    names = MethodNames(lambda method, path: "")
    with pytest.raises(ValueError, match="must return a method name or None"):
        names.resolve("GET", "/x")


# --- denials ------------------------------------------------------------------------------


def decision(status: int, reason: str | None, method: str = "getInfo") -> AccessDecision:
    return AccessDecision(False, status, "Online marketplace", method, reason=reason)


def test_a_missing_token_gets_the_bare_challenge() -> None:
    denial = Denials("Online marketplace").for_problem(Problem.MISSING)
    assert denial.status == 401
    assert dict(denial.headers)["www-authenticate"] == 'Bearer realm="Online marketplace"'


def test_the_realm_cannot_break_out_of_its_quotes() -> None:
    realm = Denials('Shop "A"\\B ü').realm
    assert realm == "Bearer realm=\"Shop 'A'/B ?\""


def test_a_rejected_token_gets_invalid_token_with_the_servers_reason() -> None:
    denial = Denials("S").for_decision(decision(401, 'Token "revoked"\n'))
    assert denial.status == 401
    assert json.loads(denial.body) == {"description": 'Token "revoked"\n'}
    assert dict(denial.headers)["www-authenticate"] == (
        'Bearer realm="S", error="invalid_token", error_description="Token \'revoked\'?"'
    )


def test_a_denial_without_a_reason_says_what_is_wrong() -> None:
    denial = Denials("S").for_decision(decision(403, None, "getStats"))
    assert denial.status == 403
    assert "'getStats'" in denial.description
    assert 'error="insufficient_scope"' in dict(denial.headers)["www-authenticate"]


def test_denials_are_built_once_per_reason() -> None:
    denials = Denials("S")
    assert denials.for_decision(decision(401, "x")) is denials.for_decision(decision(401, "x"))


def test_an_unavailable_server_gets_503_with_retry_after_and_no_store() -> None:
    denial = Denials("S", retry_after=30).unavailable
    headers = dict(denial.headers)
    assert denial.status == 503
    assert headers["retry-after"] == "30"
    assert headers["cache-control"] == "no-store"
    assert "30 seconds" in denial.description


def test_a_server_that_cannot_decide_gets_a_503_logged_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    denials = Denials("S")
    # A 404 of /token/check: the payment server's URL is wrong, which the operator must fix.
    for error in (PaymentServiceUnavailable("timed out"), NotFoundError("?", status_code=404)):
        assert denials.for_error(error, "getInfo") is denials.unavailable
    assert [record.levelname for record in caplog.records] == ["WARNING", "ERROR"]
    assert "pct_" not in caplog.text


def test_a_check_the_server_calls_malformed_is_a_400_logged_as_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    denials = Denials("S")

    denial = denials.for_error(BadRequestError("methodName: too long", status_code=400), "x")

    assert denial.status == 400
    assert json.loads(denial.body) == {"description": "methodName: too long"}
    assert 'error="invalid_request"' in dict(denial.headers)["www-authenticate"]
    assert "retry-after" not in dict(denial.headers)
    assert [record.levelname for record in caplog.records] == ["INFO"]


@pytest.mark.parametrize("problem", [Problem.MISSING, Problem.NOT_BEARER])
def test_a_request_without_bearer_credentials_gets_401_and_the_bare_challenge(
    problem: Problem,
) -> None:
    denial = Denials("S").for_problem(problem)
    assert denial.status == 401
    assert dict(denial.headers)["www-authenticate"] == 'Bearer realm="S"'


def test_the_wsgi_and_asgi_forms_carry_the_content_length() -> None:
    denial = Denials("S").for_problem(Problem.MALFORMED)
    length = str(len(denial.body))
    assert ("content-length", length) in denial.wsgi_headers
    assert (b"content-length", length.encode()) in denial.raw_headers
    assert denial.wsgi_status == "400 Bad Request"


def test_a_websocket_close_reason_fits_in_a_close_frame() -> None:
    denial = Denials("S").for_decision(decision(401, "é" * 200))
    assert len(denial.close_reason.encode()) <= 123
