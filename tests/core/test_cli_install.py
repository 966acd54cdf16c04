"""``paycheck`` as installed: the entry point, and what happens without the ``cli`` extra."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from paycheck_core import __version__, cli


@pytest.mark.parametrize("missing", ["typer", "rich"])
def test_without_the_cli_extra_paycheck_names_it_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    # A None entry makes "import typer" (or rich) fail as if it were not installed; its
    # submodules must go too, or "from rich.console import ..." finds them already loaded.
    for name in [name for name in sys.modules if name.partition(".")[0] == missing]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in [name for name in sys.modules if name.startswith("paycheck_core.cli.")]:
        monkeypatch.delitem(sys.modules, name)
    assert cli.main(["--version"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == 'paycheck needs Typer and Rich: pip install "paycheck-suite[cli]"\n'


def test_the_sdk_imports_without_typer_or_rich() -> None:
    code = (
        "import sys\n"
        "sys.modules['typer'] = sys.modules['rich'] = None\n"
        "import paycheck_core, paycheck_core.cli\n"
        "print(paycheck_core.cli.main(['--version']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "2\n")
    assert done.stderr == 'paycheck needs Typer and Rich: pip install "paycheck-suite[cli]"\n'


def test_the_paycheck_script_runs_main() -> None:
    (script,) = entry_points(group="console_scripts", name="paycheck")
    assert script.load() is cli.main


def test_python_m_paycheck_core_cli_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paycheck_core.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, f"paycheck {__version__}\n")
