"""The pytest plugin (``paycheck_server.pytest_plugin``), run as a user's project runs it.

Each test writes a small project (a service protected by our middleware and its tests) into
``pytester``'s directory and runs pytest on it in a new process, where the plugin is loaded
from its entry point exactly as in the user's virtualenv. The Starlette project is the one
``docs/getting-started/testing.md`` shows (``docs/snippets/shop.py``, ``conftest.py`` and
``test_shop.py``).
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "docs" / "snippets"
RUN_TIMEOUT = 300  # seconds for one user session, a server start included, on a busy machine

MAPS_CATALOG = """\
[[services]]
name = "Maps"

[[services.methods]]
name = "route"
price_per_day = "0.90"

[[services.methods]]
name = "reindex"
price_per_day = "0"
private = true
"""

FLASK_PROJECT = """\
from contextlib import contextmanager

import pytest
from flask import Flask

from paycheck_core import TokenValidator
from paycheck_core.tokens import generate_token
from paycheck_integrations.flask import Paycheck


@contextmanager
def service_client(server_url, service):
    # No cache: every request asks the payment server, so a revoke shows at once.
    with TokenValidator(server_url, service, ttl=0, negative_ttl=0) as validator:
        app = Flask(__name__)
        Paycheck(app, service=service, validator=validator)

        @app.get("/route", endpoint="route")
        def route():
            return {"ok": True}

        yield app.test_client()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_200_with_the_token_then_401_after_revoke(paycheck_server):
    token = paycheck_server.token("Maps")
    with service_client(paycheck_server.url, "Maps") as client:
        assert client.get("/route", headers=bearer(token)).status_code == 200
        paycheck_server.revoke(token)
        assert client.get("/route", headers=bearer(token)).status_code == 401


def test_revoking_a_token_the_server_does_not_know_fails(paycheck_server):
    with pytest.raises(RuntimeError, match="no such token"):
        paycheck_server.revoke(generate_token())


def test_methods_none_buys_every_method_for_sale(paycheck_server):
    purchase = paycheck_server.buy("Maps", days=3)

    assert purchase.methods == ("route",)
    assert (purchase.date_to - purchase.date_from).days == 2


def test_the_old_token_works_in_the_grace_period_after_a_reset(paycheck_server):
    purchase = paycheck_server.buy("Maps", ["route"])
    new_token = paycheck_server.reset(purchase.payment_artifact)

    with service_client(paycheck_server.url, "Maps") as client:
        assert client.get("/route", headers=bearer(purchase.token)).status_code == 200
        assert client.get("/route", headers=bearer(new_token)).status_code == 200


def test_a_second_server_with_a_dict_catalog_and_no_grace(paycheck_server_factory):
    server = paycheck_server_factory(
        {"services": [{"name": "Tides", "methods": [{"name": "route", "price_per_day": 1}]}]},
        reset_grace_seconds=0,
    )
    purchase = server.buy("Tides")
    new_token = server.reset(purchase.payment_artifact)

    with service_client(server.url, "Tides") as client:
        assert client.get("/route", headers=bearer(purchase.token)).status_code == 401
        assert client.get("/route", headers=bearer(new_token)).status_code == 200
"""


def run_user_session(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # -W error: the user's session must not warn either. pytest-asyncio, installed here for
    # our own suite, warns about its own unset option in any project that does not set it.
    return pytester.runpytest_subprocess(
        "-W", "error", "-p", "no:asyncio", "-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT
    )


def test_the_plugin_is_registered_for_pytest_as_paycheck() -> None:
    (plugin,) = entry_points(group="pytest11", name="paycheck")
    assert plugin.value == "paycheck_server.pytest_plugin"


@pytest.mark.slow
def test_the_documented_starlette_project_passes(pytester: pytest.Pytester) -> None:
    for name in ("shop.py", "conftest.py", "test_shop.py"):
        pytester.path.joinpath(name).write_text(
            (SNIPPETS / name).read_text(encoding="utf-8"), encoding="utf-8"
        )

    result = run_user_session(pytester)

    result.assert_outcomes(passed=5)


@pytest.mark.slow
def test_a_flask_project_with_the_command_line_catalog_passes(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", maps=MAPS_CATALOG)
    pytester.makepyfile(test_maps=FLASK_PROJECT)

    result = run_user_session(pytester, "--paycheck-catalog", "maps.toml")

    result.assert_outcomes(passed=5)


def test_the_catalog_comes_from_the_option_else_the_ini_file_else_the_demo(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\npaycheck_catalog = config/maps.toml\n")
    pytester.makepyfile(
        test_catalog=f"""
        from pathlib import Path

        def test_catalog(paycheck_catalog, pytestconfig):
            given = pytestconfig.getoption("paycheck_catalog")
            expected = "other.toml" if given else "config/maps.toml"
            assert paycheck_catalog == Path({str(pytester.path)!r}) / expected
        """
    )

    run_user_session(pytester).assert_outcomes(passed=1)
    run_user_session(pytester, "--paycheck-catalog", "other.toml").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_catalog="def test_catalog(paycheck_catalog):\n    assert paycheck_catalog is None\n"
    )
    run_user_session(pytester).assert_outcomes(passed=1)


def test_a_session_that_asks_for_no_fixture_imports_nothing_and_starts_nothing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_plain():
            assert "paycheck_server.pytest_plugin" in sys.modules  # loaded by its entry point
            loaded = {name for name in sys.modules if name.startswith("paycheck")}
            assert loaded == {
                "paycheck_server", "paycheck_server._version", "paycheck_server.pytest_plugin"
            }
        """
    )

    # A catalog that does not exist is not even looked at while no test asks for a server.
    result = run_user_session(pytester, "--paycheck-catalog", "missing.toml")

    result.assert_outcomes(passed=1)


def test_importing_the_plugin_imports_neither_the_server_nor_the_sdk() -> None:
    code = (
        "import sys, paycheck_server.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in "
        "{'fastapi', 'sqlalchemy', 'uvicorn', 'paycheck_core', 'httpx'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout == "[]\n"


@pytest.mark.slow
def test_a_catalog_the_server_refuses_fails_the_fixture_with_the_servers_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".toml", broken='[[services]]\nname = "Maps"\n')
    pytester.makepyfile(test_broken="def test_needs_a_server(paycheck_server):\n    pass\n")

    result = run_user_session(pytester, "--paycheck-catalog", "broken.toml")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*paycheck-server exited with 2 before it was ready*"])
    result.stdout.fnmatch_lines(["*expected a non-empty 'methods' list*"])
