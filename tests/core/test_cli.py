"""The ``paycheck`` command against a mocked payment server: output, exit codes, error lines."""

from __future__ import annotations

import io
import json
import socket
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import respx

from paycheck_core import tokens
from paycheck_core.cli import _app, main

URL = "http://paycheck.test"
ARTIFACT = tokens.generate_artifact()
TOKEN = tokens.generate_token()

CATALOG = {
    "services": [
        {
            "serviceName": "Online marketplace",
            "currency": "USD",
            "methods": [
                {"methodName": "getInfo", "pricePerDay": 1.5},
                {"methodName": "search", "pricePerDay": 2.25},
            ],
        },
        {"serviceName": "Weather", "currency": "USD", "methods": []},
    ]
}
BILL = {
    "serviceName": "Online marketplace",
    "dateFrom": "2026-12-01",
    "dateTo": "2026-12-10",
    "methods": [{"methodName": "getInfo", "price": 15.0}, {"methodName": "search", "price": 22.5}],
    "totalPrice": 37.5,
    "currency": "USD",
    "billId": "b_42",
    "status": "unpaid",
    "paymentArtifact": ARTIFACT,
}
PAYMENT = {"message": "Payment is done", "token": TOKEN, "paidUntil": "2026-12-10"}
ALLOWED = {
    "allowed": True,
    "serviceName": "Online marketplace",
    "methodName": "getInfo",
    "paidUntil": "2026-12-10",
}
INFO = {
    "paidUntil": "2026-12-10",
    "availableService": "Online marketplace",
    "methods": ["getInfo", "search"],
    "dateFrom": "2026-12-01",
}


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PAYCHECK_SERVER_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture
def mock_server(monkeypatch: pytest.MonkeyPatch) -> respx.MockRouter:
    """A mocked payment server at URL, which ``paycheck`` uses through PAYCHECK_SERVER_URL."""
    router = respx.MockRouter(base_url=URL, assert_all_called=False)
    monkeypatch.setattr(_app, "_transport", lambda: httpx.MockTransport(router.handler))
    monkeypatch.setenv("PAYCHECK_SERVER_URL", URL)
    return router


@pytest.fixture
def paycheck(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    def run(*args: str, stdin: str = "") -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


def assert_one_error_line(result: Result, *fragments: str) -> None:
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error: ")
    assert result.err.count("\n") == 1
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err


# --- services --------------------------------------------------------------------------------


def test_services_shows_service_method_price_per_day_and_currency(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.get("/services").respond(200, json=CATALOG)
    result = paycheck("services")
    assert result.code == 0
    header = result.out.splitlines()[1]
    for column in ("Service", "Method", "Price per day", "Currency"):
        assert column in header
    row = next(line for line in result.out.splitlines() if "search" in line)
    assert "2.25" in row
    assert "USD" in row


def test_services_json_is_the_catalog_with_prices_per_day(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.get("/services").respond(200, json=CATALOG)
    result = paycheck("services", "--json")
    assert result.code == 0
    assert result.json() == CATALOG


def test_services_says_when_the_catalog_is_empty(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.get("/services").respond(200, json={"services": []})
    result = paycheck("services")
    assert result.code == 0
    assert "catalog is empty" in result.out


# --- bill ------------------------------------------------------------------------------------


def test_bill_sends_the_service_the_period_and_the_methods(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    route = mock_server.post("/bill").respond(200, json=BILL)
    args = ("--from", "2026-12-01", "--to", "2026-12-10", "-m", "getInfo", "--method", "search")
    paycheck("bill", "Online marketplace", *args)
    assert sent(route) == {
        "serviceName": "Online marketplace",
        "dateFrom": "2026-12-01",
        "dateTo": "2026-12-10",
        "methods": ["getInfo", "search"],
    }


def test_bill_without_a_method_asks_for_all_methods(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    route = mock_server.post("/bill").respond(200, json=BILL)
    paycheck("bill", "Online marketplace", "--from", "2026-12-01", "--to", "2026-12-10")
    assert "methods" not in sent(route)


def test_bill_prints_the_total_and_the_artifact_with_the_shown_once_warning(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/bill").respond(200, json=BILL)
    result = paycheck("bill", "Online marketplace", "--from", "2026-12-01", "--to", "2026-12-10")
    assert result.code == 0
    assert "Total: 37.50 USD" in result.out
    assert "10 days" in result.out
    assert "shown only once" in result.out
    assert ARTIFACT in result.out.splitlines()


def test_bill_json_carries_the_artifact(mock_server: respx.MockRouter, paycheck: Run) -> None:
    mock_server.post("/bill").respond(200, json=BILL)
    result = paycheck(
        "bill", "Online marketplace", "--from", "2026-12-01", "--to", "2026-12-10", "--json"
    )
    assert result.code == 0
    assert result.json() == {
        "serviceName": "Online marketplace",
        "dateFrom": "2026-12-01",
        "dateTo": "2026-12-10",
        "methods": [
            {"methodName": "getInfo", "price": 15.0},
            {"methodName": "search", "price": 22.5},
        ],
        "totalPrice": 37.5,
        "currency": "USD",
        "billId": "b_42",
        "status": "unpaid",
        "expiresAt": None,
        "paymentArtifact": ARTIFACT,
        "savedTo": None,
    }


def test_bill_understands_today_and_tomorrow_as_utc_days(
    mock_server: respx.MockRouter, paycheck: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_app, "_today", lambda: date(2026, 12, 31))
    route = mock_server.post("/bill").respond(200, json=BILL)
    paycheck("bill", "Online marketplace", "--from", "today", "--to", "Tomorrow")
    assert (sent(route)["dateFrom"], sent(route)["dateTo"]) == ("2026-12-31", "2027-01-01")


def test_bill_with_a_bad_date_says_the_expected_format_and_sends_nothing(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    route = mock_server.post("/bill").respond(200, json=BILL)
    result = paycheck("bill", "Online marketplace", "--from", "01/12/2026", "--to", "2026-12-10")
    assert_one_error_line(result, "--from", "'01/12/2026'", "YYYY-MM-DD")
    assert not route.called


def test_bill_refuses_a_period_that_ends_before_it_starts(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    route = mock_server.post("/bill").respond(200, json=BILL)
    result = paycheck("bill", "Online marketplace", "--from", "2026-12-10", "--to", "2026-12-01")
    assert_one_error_line(result, "--to 2026-12-01 is before --from 2026-12-10")
    assert not route.called


BILL_ARGS = ("bill", "Online marketplace", "--from", "2026-12-01", "--to", "2026-12-10")
PAY_ARGS = ("pay", ARTIFACT)


@pytest.mark.parametrize(("args", "path"), [(BILL_ARGS, "/bill"), (PAY_ARGS, "/pay")])
def test_bill_and_pay_send_the_idempotency_key_given(
    mock_server: respx.MockRouter, paycheck: Run, args: tuple[str, ...], path: str
) -> None:
    route = mock_server.post(path).respond(200, json=BILL if path == "/bill" else PAYMENT)
    key = str(uuid.uuid4())

    paycheck(*args, "--idempotency-key", key)

    assert route.calls.last.request.headers["Idempotency-Key"] == key


@pytest.mark.parametrize(("args", "path"), [(BILL_ARGS, "/bill"), (PAY_ARGS, "/pay")])
def test_bill_and_pay_send_a_new_random_uuid_as_their_key_by_default(
    mock_server: respx.MockRouter, paycheck: Run, args: tuple[str, ...], path: str
) -> None:
    route = mock_server.post(path).respond(200, json=BILL if path == "/bill" else PAYMENT)

    paycheck(*args)
    paycheck(*args)

    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert [uuid.UUID(key).version for key in keys] == [4, 4]
    assert keys[0] != keys[1]


@pytest.mark.parametrize(("args", "path"), [(BILL_ARGS, "/bill"), (PAY_ARGS, "/pay")])
def test_bill_and_pay_refuse_a_guessable_key_before_any_request(
    mock_server: respx.MockRouter, paycheck: Run, args: tuple[str, ...], path: str
) -> None:
    route = mock_server.post(path).respond(200, json={})

    result = paycheck(*args, "--idempotency-key", "invoice-00000042")

    assert_one_error_line(result, "--idempotency-key is too weak to be a secret", "random UUID")
    assert "invoice-00000042" not in result.err
    assert not route.called


@pytest.mark.parametrize(
    ("args", "path", "what"), [(BILL_ARGS, "/bill", "a bill"), (PAY_ARGS, "/pay", "a payment")]
)
@pytest.mark.parametrize("failure", ["no answer", "a 503"])
def test_an_unanswered_bill_or_payment_says_which_key_retries_it_safely(
    mock_server: respx.MockRouter,
    paycheck: Run,
    args: tuple[str, ...],
    path: str,
    what: str,
    failure: str,
) -> None:
    route = mock_server.post(path)
    if failure == "no answer":
        route.side_effect = httpx.ReadTimeout("no answer")
    else:
        route.respond(503, json={"description": "The payment provider did not confirm"})

    result = paycheck(*args)

    key = route.calls.last.request.headers["Idempotency-Key"]
    assert_one_error_line(result, f"retry with --idempotency-key {key}", f"never {what} twice")


def test_bill_of_an_unknown_service_shows_the_servers_description(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/bill").respond(404, json={"description": "Service 'Nope' not found"})
    result = paycheck("bill", "Nope", "--from", "2026-12-01", "--to", "2026-12-10")
    assert_one_error_line(result, "Service 'Nope' not found", "404", "paycheck services")


# --- pay, info, reset ------------------------------------------------------------------------


def test_pay_prints_the_token(mock_server: respx.MockRouter, paycheck: Run) -> None:
    route = mock_server.post("/pay").respond(200, json=PAYMENT)
    result = paycheck("pay", ARTIFACT)
    assert result.code == 0
    assert sent(route) == {"paymentArtifact": ARTIFACT}
    assert TOKEN in result.out.splitlines()
    assert "Payment is done" in result.out
    assert "paid until 2026-12-10" in result.out


def test_pay_json_carries_the_token(mock_server: respx.MockRouter, paycheck: Run) -> None:
    mock_server.post("/pay").respond(200, json=PAYMENT)
    result = paycheck("pay", ARTIFACT, "--json")
    assert result.json() == {
        "message": "Payment is done",
        "alreadyPaid": False,
        "billId": None,
        "status": None,
        "paidUntil": "2026-12-10",
        "token": TOKEN,
    }


def test_pay_sends_the_card_number_without_spaces(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    route = mock_server.post("/pay").respond(200, json=PAYMENT)
    paycheck("pay", ARTIFACT, "--card", "4242 4242 4242 4242")
    assert sent(route)["card"] == "4242424242424242"


def test_pay_of_a_paid_bill_says_nothing_was_charged(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/pay").respond(200, json={**PAYMENT, "message": "Payment already processed"})
    result = paycheck("pay", ARTIFACT)
    assert result.code == 0
    assert "nothing was charged" in result.out
    assert TOKEN in result.out.splitlines()


def test_pay_with_a_declined_card_is_an_error_saying_nothing_was_charged(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/pay").respond(402, json={"description": "Your card was declined"})
    result = paycheck("pay", ARTIFACT, "--card", "4000000000000002")
    assert_one_error_line(result, "declined", "Your card was declined", "nothing was charged")


def test_pay_of_an_unknown_artifact_shows_the_servers_description(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/pay").respond(404, json={"description": "Artifact is not found"})
    assert_one_error_line(paycheck("pay", ARTIFACT), "Artifact is not found (HTTP 404)")


@pytest.mark.parametrize("command", ["pay", "info", "reset"])
def test_an_access_token_is_refused_where_an_artifact_is_expected(
    mock_server: respx.MockRouter, paycheck: Run, command: str
) -> None:
    result = paycheck(command, TOKEN)
    assert_one_error_line(result, "access token", "not a payment artifact")
    assert not mock_server.calls
    assert TOKEN not in result.err


def test_a_truncated_artifact_is_refused_without_showing_it(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    result = paycheck("pay", ARTIFACT[:-3])
    assert_one_error_line(result, "not a well-formed payment artifact", "copied whole")
    assert ARTIFACT[:-3] not in result.err
    assert not mock_server.calls


def test_pay_without_an_artifact_says_how_to_give_one(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    assert_one_error_line(paycheck("pay"), "--artifact-file FILE", "- to read it from stdin")


def test_info_shows_the_service_its_methods_and_the_paid_days(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    route = mock_server.post("/payment/info").respond(200, json=INFO)
    result = paycheck("info", ARTIFACT)
    assert result.code == 0
    assert sent(route) == {"paymentArtifact": ARTIFACT}
    assert "Online marketplace" in result.out
    assert "getInfo, search" in result.out
    assert "2026-12-01" in result.out
    assert "2026-12-10" in result.out


def test_info_json_is_the_payment_without_secrets(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/payment/info").respond(200, json=INFO)
    result = paycheck("info", ARTIFACT, "--json")
    assert result.json() == {
        "availableService": "Online marketplace",
        "methods": ["getInfo", "search"],
        "dateFrom": "2026-12-01",
        "paidUntil": "2026-12-10",
        "billId": None,
        "status": None,
    }


def test_reset_prints_the_new_token_and_the_grace_period(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    route = mock_server.post("/token/reset").respond(200, json={"token": TOKEN})
    result = paycheck("reset", ARTIFACT)
    assert result.code == 0
    assert sent(route) == {"paymentArtifact": ARTIFACT}
    assert TOKEN in result.out.splitlines()
    assert "grace period" in result.out


def test_reset_json_is_the_new_token(mock_server: respx.MockRouter, paycheck: Run) -> None:
    mock_server.post("/token/reset").respond(200, json={"token": TOKEN})
    assert paycheck("reset", ARTIFACT, "--json").json() == {"token": TOKEN}


# --- check -----------------------------------------------------------------------------------


def check_args(*extra: str) -> tuple[str, ...]:
    return ("check", TOKEN, "--service", "Online marketplace", "--method", "getInfo", *extra)


def test_check_of_an_allowed_token_exits_0(mock_server: respx.MockRouter, paycheck: Run) -> None:
    route = mock_server.post("/token/check").respond(200, json=ALLOWED)
    result = paycheck(*check_args())
    assert result.code == 0
    assert sent(route) == {
        "token": TOKEN,
        "serviceName": "Online marketplace",
        "methodName": "getInfo",
    }
    assert result.out.startswith("allowed")
    assert "until 2026-12-10" in result.out


@pytest.mark.parametrize(
    ("status", "description"),
    [(401, "Invalid or expired token"), (403, "Access to service or method is forbidden")],
)
def test_check_of_a_denied_token_exits_1_with_the_reason(
    mock_server: respx.MockRouter, paycheck: Run, status: int, description: str
) -> None:
    mock_server.post("/token/check").respond(status, json={"description": description})
    result = paycheck(*check_args())
    assert result.code == 1
    assert result.out.startswith(f"denied ({status})")
    assert description in result.out
    assert result.err == ""


def test_check_json_is_the_decision_without_the_token(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/token/check").respond(
        200,
        json=ALLOWED,
        headers={"Cache-Control": "max-age=60"},
    )
    result = paycheck(*check_args("--json"))
    assert result.code == 0
    assert result.json() == {
        "allowed": True,
        "status": 200,
        "serviceName": "Online marketplace",
        "methodName": "getInfo",
        "paidUntil": "2026-12-10",
        "reason": None,
        "maxAge": 60,
    }
    assert TOKEN not in result.out


def test_check_json_of_a_denied_token_exits_1(mock_server: respx.MockRouter, paycheck: Run) -> None:
    mock_server.post("/token/check").respond(401, json={"description": "Invalid or expired token"})
    result = paycheck(*check_args("--json"))
    assert result.code == 1
    assert result.json()["allowed"] is False
    assert result.json()["reason"] == "Invalid or expired token"


def test_check_denies_a_malformed_token_without_asking_the_server(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    result = paycheck("check", TOKEN[:-1], "--service", "Online marketplace", "--method", "getInfo")
    assert result.code == 1
    assert "malformed" in result.out
    assert not mock_server.calls


def test_check_that_the_server_cannot_answer_exits_2(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/token/check").respond(500, json={"description": "Internal error"})
    assert_one_error_line(paycheck(*check_args()), URL, "500", "Internal error")


# --- the server ------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_server_that_is_down_is_named_in_the_error(paycheck: Run) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = paycheck("services", "--server", url)
    assert_one_error_line(result, url, "could not connect", "PAYCHECK_SERVER_URL")


def test_the_default_server_is_port_8000_on_localhost(
    monkeypatch: pytest.MonkeyPatch, paycheck: Run
) -> None:
    router = respx.MockRouter(base_url="http://127.0.0.1:8000", assert_all_called=False)
    route = router.get("/services").respond(200, json=CATALOG)
    monkeypatch.setattr(_app, "_transport", lambda: httpx.MockTransport(router.handler))
    assert paycheck("services").code == 0
    assert route.called


def test_the_server_option_wins_over_the_environment(
    mock_server: respx.MockRouter, paycheck: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYCHECK_SERVER_URL", "http://elsewhere.test")
    route = mock_server.get("/services").respond(200, json=CATALOG)
    assert paycheck("services", "--server", URL).code == 0
    assert route.called


def test_a_server_that_is_not_an_http_url_is_refused(paycheck: Run) -> None:
    result = paycheck("services", "--server", "127.0.0.1:8000")
    assert_one_error_line(result, "--server must be an http:// or https:// URL", "'127.0.0.1:8000'")


def test_an_answer_that_is_not_the_contracts_suggests_checking_the_server(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.get("/services").respond(200, text="<html>hello</html>")
    result = paycheck("services")
    assert_one_error_line(result, URL, "not the contract's", "Paycheck payment server")


# --- the terminal ----------------------------------------------------------------------------


def test_output_has_no_colour_when_it_is_not_a_terminal(
    mock_server: respx.MockRouter, paycheck: Run
) -> None:
    mock_server.post("/token/check").respond(401, json={"description": "Invalid or expired token"})
    assert "\x1b[" not in paycheck(*check_args()).out


def test_no_color_turns_colour_off_even_on_a_terminal(
    mock_server: respx.MockRouter, paycheck: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock_server.post("/token/check").respond(401, json={"description": "Invalid or expired token"})
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[1;31mdenied" in paycheck(*check_args()).out
    monkeypatch.setenv("NO_COLOR", "1")
    coloured = paycheck(*check_args()).out
    assert "denied" in coloured
    assert "31m" not in coloured


def test_a_missing_option_is_one_error_line_pointing_to_help(paycheck: Run) -> None:
    result = paycheck("bill", "Online marketplace", "--to", "2026-12-10")
    assert_one_error_line(result, "Missing option '--from'", "paycheck bill --help")


def test_an_unknown_command_is_one_error_line(paycheck: Run) -> None:
    assert_one_error_line(paycheck("buy"), "No such command 'buy'", "paycheck --help")


def test_no_arguments_shows_the_help(paycheck: Run) -> None:
    result = paycheck()
    assert result.code == 0
    for command in ("services", "bill", "pay", "info", "reset", "check"):
        assert command in result.out


def test_version_prints_the_package_version(paycheck: Run) -> None:
    from paycheck_core import __version__

    assert paycheck("--version").out == f"paycheck {__version__}\n"
