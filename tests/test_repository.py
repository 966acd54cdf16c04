"""Promises the repository makes about itself."""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path

import pytest

from paycheck_server.cli import cli
from paycheck_server.settings import Settings

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


def readme_server_commands() -> list[str]:
    """Every ``paycheck-server`` command the README shows in inline code."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [span for span in re.findall(r"`([^`\n]+)`", text) if "paycheck-server" in span]


def test_the_readme_says_how_to_serve_on_another_port() -> None:
    commands = readme_server_commands()
    assert any("serve --port" in command for command in commands)
    assert any(command.startswith("PAYCHECK_PORT=") for command in commands)


@pytest.mark.parametrize("command", readme_server_commands())
def test_a_readme_command_names_only_real_flags_and_variables(command: str) -> None:
    words = shlex.split(command)
    while "=" in words[0]:
        variable = words.pop(0).partition("=")[0]
        assert variable.removeprefix("PAYCHECK_").lower() in Settings.model_fields, variable
    program, *args = words
    assert program.endswith("paycheck-server")
    args = [arg for arg in args if arg not in ("-h", "--help")]
    if args and args[0] in cli.commands:
        cli.commands[args[0]].make_context(args[0], args[1:])  # click.NoSuchOption if not
    else:
        cli.make_context("paycheck-server", args)
