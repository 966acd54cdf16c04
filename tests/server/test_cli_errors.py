"""``paycheck-server``'s errors name only flags and variables that exist, the ones the user gave.

For every setting with a value ``Settings`` refuses: set through its ``PAYCHECK_*`` variable, the
error names the variable and no flag; given as a flag of a command, it names that flag and no
variable. An option given before the command says which command it belongs to.
"""

from __future__ import annotations

import os
import re

import click
import pytest
from pydantic import ValidationError

from paycheck_core import tokens
from paycheck_server.cli import cli, main
from paycheck_server.settings import Settings

_CANDIDATES = ("not-a-number", "-5", "0", "ftp://example.test")
_FLAG = re.compile(r"--[a-z][a-z-]*")


def invalid_value(field: str) -> str | None:
    """A value ``Settings`` refuses for ``field``, or ``None`` when it accepts them all."""
    for candidate in _CANDIDATES:
        try:
            Settings(**{field: candidate})
        except ValidationError:
            return candidate
    return None


INVALID = {
    name: value for name in Settings.model_fields if (value := invalid_value(name)) is not None
}
FLAGS = [
    pytest.param(command_name, param, id=f"{command_name} {param.opts[0]}")
    for command_name, command in cli.commands.items()
    for param in command.params
    if isinstance(param, click.Option) and param.name in INVALID
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


@pytest.fixture(autouse=True)
def no_paycheck_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("PAYCHECK_")]:
        monkeypatch.delenv(name)


def test_most_settings_have_a_refused_value_to_test_with() -> None:
    # Only free text (the host) and a path (checked when the catalog is read) take anything.
    assert set(Settings.model_fields) - set(INVALID) <= {"host", "catalog"}


@pytest.mark.parametrize("argv", [["serve"], []], ids=["serve", "no command"])
@pytest.mark.parametrize(("field", "value"), sorted(INVALID.items()))
def test_a_refused_variable_is_named_and_no_flag_is(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    value: str,
    argv: list[str],
) -> None:
    monkeypatch.setenv(f"PAYCHECK_{field.upper()}", value)

    code, err = run(capsys, *argv)

    assert code == 2
    assert err.startswith(f"paycheck-server: error: invalid PAYCHECK_{field.upper()}: ")
    assert _FLAG.findall(err) == []
    assert err.count("\n") == 1


@pytest.mark.parametrize(("command", "option"), FLAGS)
def test_a_refused_flag_is_named_and_no_variable_is(
    capsys: pytest.CaptureFixture[str], command: str, option: click.Option
) -> None:
    assert option.name is not None
    before = ["--token", tokens.generate_token()] if command == "revoke" else []

    code, err = run(capsys, command, *before, option.opts[0], INVALID[option.name])

    assert code == 2
    assert err.startswith(f"paycheck-server: error: invalid {option.opts[0]}: ")
    assert "PAYCHECK_" not in err
    assert err.count("\n") == 1


def test_every_flag_named_in_an_error_is_an_option_of_the_command() -> None:
    # What the two tests above rely on: each command's settings flags are named after the field.
    for command in cli.commands.values():
        for param in command.params:
            if isinstance(param, click.Option) and param.name in Settings.model_fields:
                assert f"--{param.name.replace('_', '-')}" in param.opts


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["--port", "9000"], "It goes after the command: paycheck-server serve --port ..."),
        (["--host=0.0.0.0"], "It goes after the command: paycheck-server serve --host ..."),
        (
            ["--database-url", "sqlite:///x.db", "migrate"],
            "It goes after a command (serve, migrate, revoke): "
            "paycheck-server migrate --database-url ...",
        ),
        (["--token", "pct_secret", "revoke"], "paycheck-server revoke --token ..."),
    ],
)
def test_a_commands_option_given_before_it_says_where_it_goes(
    capsys: pytest.CaptureFixture[str], argv: list[str], hint: str
) -> None:
    code, err = run(capsys, *argv)

    assert code == 2
    assert err.startswith("paycheck-server: error: No such option")
    assert hint in err
    assert "pct_secret" not in err  # the value is not repeated: it may be a secret


def test_an_option_of_no_command_gets_no_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "--colour", "blue")

    assert code == 2
    assert err == "paycheck-server: error: No such option '--colour'.\n"
