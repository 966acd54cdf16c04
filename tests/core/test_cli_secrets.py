"""How ``paycheck`` keeps secrets: ``--save`` files (0600, never overwritten), files and stdin."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from paycheck_core import tokens
from paycheck_core.cli import _app, main
from paycheck_core.cli._files import ArtifactFile

URL = "http://paycheck.test"
ARTIFACT = tokens.generate_artifact()
TOKEN = tokens.generate_token()
BILL = {
    "serviceName": "Online marketplace",
    "dateFrom": "2026-12-01",
    "dateTo": "2026-12-10",
    "methods": [{"methodName": "getInfo", "price": 15.0}],
    "totalPrice": 15.0,
    "paymentArtifact": ARTIFACT,
}
BILL_ARGS = ("bill", "Online marketplace", "--from", "2026-12-01", "--to", "2026-12-10")


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def mock_server(monkeypatch: pytest.MonkeyPatch) -> respx.MockRouter:
    """A mocked payment server at URL, which ``paycheck`` uses through PAYCHECK_SERVER_URL."""
    router = respx.MockRouter(base_url=URL, assert_all_called=False)
    monkeypatch.setattr(_app, "_transport", lambda: httpx.MockTransport(router.handler))
    monkeypatch.setenv("PAYCHECK_SERVER_URL", URL)
    for name in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
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


# --- bill --save -----------------------------------------------------------------------------


def test_save_writes_the_artifact_to_a_file_only_its_owner_can_read(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    mock_server.post("/bill").respond(200, json=BILL)
    target = tmp_path / "artifact.txt"
    result = paycheck(*BILL_ARGS, "--save", str(target))
    assert result.code == 0
    assert target.read_text() == ARTIFACT + "\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_save_keeps_the_artifact_off_the_terminal(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    mock_server.post("/bill").respond(200, json=BILL)
    target = tmp_path / "artifact.txt"
    result = paycheck(*BILL_ARGS, "--save", str(target))
    assert ARTIFACT not in result.out
    assert f"saved to {target}" in result.out
    assert "shown only once" in result.out


def test_save_with_json_names_the_file_instead_of_the_artifact(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    mock_server.post("/bill").respond(200, json=BILL)
    target = tmp_path / "artifact.txt"
    document = json.loads(paycheck(*BILL_ARGS, "--save", str(target), "--json").out)
    assert document["paymentArtifact"] is None
    assert document["savedTo"] == str(target)


def test_save_refuses_to_overwrite_a_file_and_makes_no_bill(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    route = mock_server.post("/bill").respond(200, json=BILL)
    target = tmp_path / "artifact.txt"
    target.write_text("an older artifact\n")
    result = paycheck(*BILL_ARGS, "--save", str(target))
    assert result.code == 2
    assert result.err == (
        f"error: --save: refusing to overwrite {target}, it already exists; choose a new file "
        f"name (nothing was billed)\n"
    )
    assert target.read_text() == "an older artifact\n"
    assert not route.called


def test_save_refuses_a_symlink_even_to_a_missing_file(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    route = mock_server.post("/bill").respond(200, json=BILL)
    link = tmp_path / "artifact.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    assert paycheck(*BILL_ARGS, "--save", str(link)).code == 2
    assert not (tmp_path / "elsewhere.txt").exists()
    assert not route.called


def test_save_into_a_missing_folder_says_why_and_makes_no_bill(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    route = mock_server.post("/bill").respond(200, json=BILL)
    target = tmp_path / "missing" / "artifact.txt"
    result = paycheck(*BILL_ARGS, "--save", str(target))
    assert result.code == 2
    assert result.err == (
        f"error: --save: cannot create {target}: No such file or directory (nothing was billed)\n"
    )
    assert not route.called


def test_save_leaves_no_file_behind_when_the_bill_fails(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    mock_server.post("/bill").respond(404, json={"description": "Service not found"})
    target = tmp_path / "artifact.txt"
    assert paycheck(*BILL_ARGS, "--save", str(target)).code == 2
    assert not target.exists()


# --- reading an artifact ---------------------------------------------------------------------


PAYMENT = {"message": "Payment is done", "token": TOKEN}


def test_artifact_file_is_read_and_sent(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    route = mock_server.post("/pay").respond(200, json=PAYMENT)
    source = tmp_path / "artifact.txt"
    source.write_text(ARTIFACT + "\n")
    result = paycheck("pay", "--artifact-file", str(source))
    assert result.code == 0
    assert sent(route) == {"paymentArtifact": ARTIFACT}


@pytest.mark.parametrize(
    ("command", "path", "answer"),
    [
        (
            "info",
            "/payment/info",
            {"paidUntil": "2026-12-10", "availableService": "S", "methods": []},
        ),
        ("reset", "/token/reset", {"token": TOKEN}),
    ],
)
def test_info_and_reset_read_the_artifact_file_too(
    mock_server: respx.MockRouter,
    paycheck: Run,
    tmp_path: Path,
    command: str,
    path: str,
    answer: dict[str, Any],
) -> None:
    route = mock_server.post(path).respond(200, json=answer)
    source = tmp_path / "artifact.txt"
    source.write_text(ARTIFACT)
    assert paycheck(command, "--artifact-file", str(source)).code == 0
    assert sent(route) == {"paymentArtifact": ARTIFACT}


def test_a_file_written_by_save_is_read_by_artifact_file(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    mock_server.post("/bill").respond(200, json=BILL)
    route = mock_server.post("/pay").respond(200, json=PAYMENT)
    target = tmp_path / "artifact.txt"
    paycheck(*BILL_ARGS, "--save", str(target))
    assert paycheck("pay", "--artifact-file", str(target)).code == 0
    assert sent(route) == {"paymentArtifact": ARTIFACT}


@pytest.mark.parametrize("args", [("pay", "-"), ("pay", "--artifact-file", "-")])
def test_a_dash_reads_the_artifact_from_stdin(
    mock_server: respx.MockRouter, paycheck: Run, args: tuple[str, ...]
) -> None:
    route = mock_server.post("/pay").respond(200, json=PAYMENT)
    assert paycheck(*args, stdin=ARTIFACT + "\n").code == 0
    assert sent(route) == {"paymentArtifact": ARTIFACT}


def test_an_empty_stdin_is_refused(mock_server: respx.MockRouter, paycheck: Run) -> None:
    result = paycheck("pay", "-", stdin="")
    assert (result.code, result.err) == (2, "error: no payment artifact in stdin\n")


def test_a_missing_artifact_file_is_named_in_the_error(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    source = tmp_path / "nope.txt"
    result = paycheck("pay", "--artifact-file", str(source))
    assert (result.code, result.err) == (
        2,
        f"error: cannot read {source}: No such file or directory\n",
    )


def test_an_artifact_file_holding_something_else_is_refused_without_showing_it(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    source = tmp_path / "artifact.txt"
    source.write_text(TOKEN)
    result = paycheck("pay", "--artifact-file", str(source))
    assert result.code == 2
    assert f"{source} holds an access token" in result.err
    assert TOKEN not in result.err
    assert not mock_server.calls


def test_an_artifact_argument_and_file_together_are_refused(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    result = paycheck("pay", ARTIFACT, "--artifact-file", str(tmp_path / "a.txt"))
    assert result.code == 2
    assert "not both" in result.err


def test_check_reads_the_token_from_stdin(mock_server: respx.MockRouter, paycheck: Run) -> None:
    route = mock_server.post("/token/check").respond(
        200,
        json={"allowed": True, "serviceName": "S", "methodName": "m", "paidUntil": "2026-12-10"},
    )
    result = paycheck("check", "-", "--service", "S", "--method", "m", stdin=TOKEN + "\n")
    assert result.code == 0
    assert sent(route)["token"] == TOKEN


def test_umask_does_not_loosen_the_saved_file(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path
) -> None:
    mock_server.post("/bill").respond(200, json=BILL)
    target = tmp_path / "artifact.txt"
    previous = os.umask(0)
    try:
        paycheck(*BILL_ARGS, "--save", str(target))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_save_that_cannot_be_written_prints_the_artifact_rather_than_lose_it(
    mock_server: respx.MockRouter, paycheck: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /dev/full accepts the open and fails every write with ENOSPC: a full disk, for real.
    target = tmp_path / "artifact.txt"
    monkeypatch.setattr(
        ArtifactFile,
        "create",
        lambda path: ArtifactFile(path, os.open("/dev/full", os.O_WRONLY)),
    )
    mock_server.post("/bill").respond(200, json=BILL)
    result = paycheck(*BILL_ARGS, "--save", str(target))
    assert result.code == 2
    assert ARTIFACT in result.out.splitlines()
    assert result.err == (
        f"error: --save: could not write {target}: No space left on device; the artifact is "
        f"printed above instead\n"
    )
