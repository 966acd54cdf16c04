"""The real ``paycheck-server`` process driven by the SDK, as a client following the seed would."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from paycheck_core import NotFoundError, PaycheckClient

from .conftest import LiveServer

pytestmark = pytest.mark.e2e


def today() -> datetime:
    return datetime.now(UTC)


def test_a_client_bills_pays_reads_resets_and_a_service_checks(live_server: LiveServer) -> None:
    start = today().date()
    with PaycheckClient(live_server.url) as client:
        bill = client.create_bill(
            "Online marketplace", start, start + timedelta(days=6), ["getInfo"]
        )
        payment = client.pay(bill.payment_artifact)
        info = client.payment_info(bill.payment_artifact)
        new_token = client.reset_token(bill.payment_artifact)
        allowed = client.check_token(new_token, "Online marketplace", "getInfo")
        still = client.check_token(payment.token, "Online marketplace", "getInfo")
        denied = client.check_token(new_token, "Online marketplace", "placeOrder")

    assert str(bill.total_price) == "8.40"
    assert payment.message == "Payment succeeded"
    assert info.methods == ("getInfo",)
    assert info.paid_until == start + timedelta(days=6)
    assert allowed.allowed
    assert allowed.max_age is not None
    assert 0 < allowed.max_age <= 3600
    assert still.allowed, "the previous token works during the grace period"
    assert (denied.allowed, denied.status) == (False, 403)


def test_a_revoked_token_gets_401_at_once(live_server: LiveServer) -> None:
    start = today().date()
    with PaycheckClient(live_server.url) as client:
        token = client.pay(client.create_bill("Weather", start, start).payment_artifact).token

        revoked = live_server.cli("revoke", "--token", token)
        decision = client.check_token(token, "Weather", "getForecast")

    assert revoked.returncode == 0, revoked.stderr
    assert (decision.allowed, decision.status) == (False, 401)


def test_an_unknown_artifact_is_not_found(live_server: LiveServer) -> None:
    with PaycheckClient(live_server.url) as client, pytest.raises(NotFoundError):
        client.pay("pca_unknown")


def test_the_database_holds_no_plaintext_secret_after_a_full_flow(
    live_server: LiveServer,
) -> None:
    start = today().date()
    key = "0d9f4c36-7f5d-4a4e-9a57-3c8e1f7b2a10"
    with PaycheckClient(live_server.url) as client:
        bill = client.create_bill("Online marketplace", start, start, idempotency_key=key)
        secrets = [bill.payment_artifact, key]
        secrets.append(client.pay(bill.payment_artifact, idempotency_key=key).token)
        secrets.append(client.pay(bill.payment_artifact).token)
        secrets.append(client.reset_token(bill.payment_artifact))
        client.payment_info(bill.payment_artifact)
    live_server.stop()

    path = live_server.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        dump = "\n".join(connection.iterdump())
    raw = b"".join(Path(name).read_bytes() for name in (path, f"{path}-wal") if Path(name).exists())

    assert 'INSERT INTO "tokens"' in dump
    for secret in secrets:
        assert secret not in dump
        assert secret.encode() not in raw
    assert all(secret not in live_server.log_text() for secret in secrets)


def test_the_startup_line_says_where_which_database_and_which_catalog(
    live_server: LiveServer,
) -> None:
    log = live_server.log_text()

    assert f"listening on {live_server.url}" in log
    assert "database sqlite+aiosqlite:///" in log
    assert "catalog demo (2 services" in log


def test_serve_with_no_arguments_listens_on_8000_with_sqlite_in_the_working_directory(
    tmp_path: Path,
) -> None:
    # A context manager, so that the skip below closes the keep-alive connection it made to
    # whatever holds the port; an unclosed socket's ResourceWarning would fail a later test.
    with httpx.Client(timeout=1) as probe:
        try:
            probe.get("http://127.0.0.1:8000/healthz")
        except httpx.HTTPError:
            pass
        else:
            pytest.skip("something already listens on 127.0.0.1:8000")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYCHECK_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "paycheck_server"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(300):
                try:
                    if probe.get("http://127.0.0.1:8000/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    process.poll()
                    assert process.returncode is None
                    time.sleep(0.1)
            answer = probe.get("http://127.0.0.1:8000/services")
        finally:
            process.terminate()
            output = process.communicate(timeout=15)[0].decode()

    assert answer.status_code == 200
    assert (tmp_path / "paycheck.db").exists()
    assert "listening on http://127.0.0.1:8000" in output
