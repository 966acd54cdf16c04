"""Promises the repository makes about itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    match = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert match, "the README must open with a sh block holding the two commands"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_readme_opens_with_the_server_and_test_commands() -> None:
    server, tests = readme_commands()
    assert server.endswith("paycheck-server")
    assert tests.endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = readme_commands()
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


@pytest.mark.parametrize("name", ["client.yml", "service.yml"])
def test_the_copied_seed_contract_is_the_users_own(name: str) -> None:
    shared = ROOT.parent / "shared" / "seed" / name
    if not shared.is_file():
        pytest.skip(f"no {shared} beside this clone to compare the copy with")
    copy = ROOT / "tests" / "contract" / "seed" / name
    assert copy.read_bytes() == shared.read_bytes(), f"{copy} differs from {shared}"
