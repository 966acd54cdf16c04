"""Promises the repository makes about itself."""

from __future__ import annotations

import hashlib
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


# The seed contract as it was handed over: the committed copy stays byte for byte the same.
SEED_SHA256 = {
    "client.yml": "9d8806bb3dc2bbaec5d3bd61b35cb1d71ec0780959fb8f07683867e7e522bf6e",
    "service.yml": "538daca7a90bfcfc5e7a4aac91c01f127d537f457f835b5a6c4b2f1d86d1a227",
}
SEED_COPY = ROOT / "tests" / "contract" / "seed"


def test_the_seed_copy_has_the_seeds_files_only() -> None:
    assert sorted(path.name for path in SEED_COPY.iterdir()) == sorted(SEED_SHA256)


@pytest.mark.parametrize("name", sorted(SEED_SHA256))
def test_the_copied_seed_contract_is_unchanged(name: str) -> None:
    copy = SEED_COPY / name
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == SEED_SHA256[name], f"{copy} changed"
    # The original sits beside the developers' clones, not beside a user's: compared where
    # present, and nothing to skip where not.
    shared = ROOT.parent / "shared" / "seed" / name
    if shared.is_file():
        assert copy.read_bytes() == shared.read_bytes(), f"{copy} differs from {shared}"
