"""The ``paycheck-server`` command: one clear line and exit code 2 on bad input; migrate, revoke."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from paycheck_core import tokens
from paycheck_server.cli import main
from paycheck_server.db import create_engine
from paycheck_server.migrate import current_revision, head_revision


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'paycheck.db'}"


def test_an_unknown_flag_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "serve", "--colour", "blue")

    assert code == 2
    assert err.startswith("paycheck-server: error: No such option")
    assert err.count("\n") == 1


def test_a_bad_port_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "serve", "--port", "70000")

    assert code == 2
    assert err.count("\n") == 1
    assert "invalid --port: " in err


def test_a_bad_variable_is_refused_like_a_bad_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYCHECK_RESET_GRACE_SECONDS", "-5")

    code, _, err = run(capsys, "serve")

    assert code == 2
    assert "PAYCHECK_RESET_GRACE_SECONDS" in err


def test_an_unsupported_database_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "migrate", "--database-url", "mysql://db/paycheck")

    assert code == 2
    assert "unsupported database 'mysql'" in err


def test_an_unreachable_database_is_one_line_and_exit_code_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+asyncpg://paycheck:secret@127.0.0.1:{port}/paycheck"

    code, _, err = run(capsys, "migrate", "--database-url", url)

    assert code == 2
    assert err.startswith("paycheck-server: error: cannot use the database ")
    assert err.count("\n") == 1
    assert "secret" not in err


def test_serve_refuses_a_catalog_file_it_cannot_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "serve", "--catalog", str(tmp_path / "absent.toml"))

    assert code == 2
    assert "absent.toml: cannot be read" in err


def test_serve_refuses_a_port_that_is_taken(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(
            capsys, "serve", "--port", str(port), "--database-url", sqlite_url(tmp_path)
        )

    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_migrate_brings_the_database_to_the_newest_schema(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "migrate", "--database-url", sqlite_url(tmp_path))

    assert code == 0
    assert f"schema {head_revision()}" in out
    engine = create_engine(sqlite_url(tmp_path))
    assert asyncio.run(current_revision(engine)) == head_revision()
    asyncio.run(engine.dispose())


def test_revoke_refuses_something_that_is_not_a_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "revoke", "--token", "pca_not_a_token")

    assert code == 2
    assert "not a Paycheck access token" in err


def test_revoke_of_an_unknown_token_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "migrate", "--database-url", sqlite_url(tmp_path))

    code, _, err = run(
        capsys, "revoke", "--token", tokens.generate_token(), "--database-url", sqlite_url(tmp_path)
    )

    assert code == 1
    assert "no such token" in err


def test_openapi_check_fails_on_stale_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "openapi", "--check", "--output-dir", str(tmp_path))

    assert code == 1
    assert "stale contracts" in err


def test_openapi_writes_both_contracts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = run(capsys, "openapi", "--output-dir", str(tmp_path))

    assert code == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["client.yml", "service.yml"]
