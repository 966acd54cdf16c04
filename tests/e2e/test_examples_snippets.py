"""Every file of ``docs/snippets/`` runs, as the documentation shows it, against real servers.

The pages include these files verbatim (``--8<--``), and ``tests/docs/test_code_blocks.py``
refuses any Python or shell block that is not such an include, so what the reader copies is
what runs here:

* Python scripts run as ``python FILE`` with ``PAYCHECK_SERVER_URL`` pointing at the
  ``live_server`` payment server process, and must exit 0 (their own ``assert``\\ s included);
* the FastAPI snippet's app is served through httpx with a token bought from that server;
* ``cli.sh`` runs with bash (``set -euo pipefail``) against the same server;
* ``install_*.sh`` run with pip told, through its environment, to resolve without installing
  and without the network (``PIP_DRY_RUN``, ``PIP_NO_INDEX``, ``PIP_NO_BUILD_ISOLATION``);
* ``shop.py``, ``conftest.py`` and ``test_shop.py`` are a user's project, run with pytest by
  ``tests/e2e/test_pytest_plugin.py``;
* ``serve_*.sh`` start real ``paycheck-server`` processes on a free port
  (``PAYCHECK_PORT``); the test waits for ``/readyz`` and reads ``/services``. The addresses the
  page uses for machines the test does not have (the PostgreSQL host, the registry) are replaced
  by a fresh database and a registry served by the test, and by nothing else.

``test_every_snippet_file_is_run`` fails for a file that none of these runs.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from paycheck_core import PaycheckClient

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "docs" / "snippets"
BIN = Path(sys.executable).parent
_START_LIMIT = 60.0  # seconds a server may take to be ready on a busy machine

PYTHON_SCRIPTS = [
    "client_async.py",
    "client_errors.py",
    "client_sdk.py",
    "tokens.py",
    "validator.py",
]
INSTALLS = ["install_cli.sh", "install_extras.sh", "install_server.sh", "install_testing.sh"]
DOCUMENTED_POSTGRES = "postgresql+asyncpg://paycheck:secret@db.internal:5432/paycheck"
DOCUMENTED_REGISTRY = "http://registry.internal:8080"
REGISTRY_SERVICES = [
    {
        "id": 7,
        "serviceName": "Maps",
        "methods": [
            {
                "id": 1,
                "methodName": "route",
                "price": 0.9,
                "isPrivate": False,
                "serviceModelID": 7,
                "arguments": [],
            },
            {
                "id": 2,
                "methodName": "reindex",
                "price": 0,
                "isPrivate": True,
                "serviceModelID": 7,
                "arguments": [],
            },
        ],
    }
]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without PAYCHECK_* settings, the venv first on PATH."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PAYCHECK_")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def live_url(live_server: Any) -> str:
    """The URL of the ``live_server`` payment server process (tests/e2e/conftest.py)."""
    return str(live_server.url)


def run_bash(script: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


# --- the client side, against the live payment server -----------------------------------------


@pytest.mark.parametrize("name", PYTHON_SCRIPTS)
def test_the_python_snippet_runs(name: str, live_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SNIPPETS / name)],
        cwd=tmp_path,
        env=clean_env(PAYCHECK_SERVER_URL=live_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def test_the_cli_snippet_runs(live_url: str, tmp_path: Path) -> None:
    script = (SNIPPETS / "cli.sh").read_text(encoding="utf-8")

    result = run_bash(script, cwd=tmp_path, env=clean_env(PAYCHECK_SERVER_URL=live_url))

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert json.loads(result.stdout[result.stdout.rindex("{") :])["token"].startswith("pct_")
    assert (tmp_path / "weather.txt").stat().st_mode & 0o777 == 0o600


async def test_the_fastapi_dependency_snippet_serves_a_paid_token(
    live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYCHECK_SERVER_URL", live_url)
    app = runpy.run_path(str(SNIPPETS / "fastapi_dependency.py"))["app"]
    today = datetime.now(UTC).date()
    with PaycheckClient(live_url) as client:
        bill = client.create_bill("Online marketplace", today, today, ["getInfo"])
        token = client.pay(bill.payment_artifact).token
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as http:
        paid = await http.get("/getInfo", headers={"Authorization": f"Bearer {token}"})
        unpaid = await http.get("/getInfo")
        schema = (await http.get("/openapi.json")).json()

    assert (paid.status_code, paid.json()) == (200, {"method": "getInfo", "paidUntil": str(today)})
    assert unpaid.status_code == 401
    assert unpaid.headers["www-authenticate"] == 'Bearer realm="Online marketplace"'
    assert schema["components"]["securitySchemes"]["PaycheckToken"]["scheme"] == "bearer"


# --- installs, without the network -----------------------------------------------------------


@pytest.mark.parametrize("name", INSTALLS)
def test_the_install_snippet_resolves_its_extras(name: str) -> None:
    script = (SNIPPETS / name).read_text(encoding="utf-8")
    # pip reads every option from PIP_<OPTION>; PIP_NO_BUILD_ISOLATION=0 means --no-build-isolation.
    env = clean_env(PIP_DRY_RUN="1", PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")

    result = run_bash(script, cwd=ROOT, env=env)

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Would install paycheck-suite-" in result.stdout
    assert "does not provide the extra" not in result.stdout + result.stderr


# The framework sections of the service authors' page, and the extra each one installs.
FRAMEWORK_EXTRAS = {"FastAPI": "fastapi", "Starlette (or any ASGI app)": "asgi", "Flask": "flask"}


def commands_the_page_runs(page: Path) -> dict[str, list[str]]:
    """Extra → the programs its section says to run the example with ("Run it with `X ...`")."""
    runs = {}
    for section in re.split(r"^## ", page.read_text(encoding="utf-8"), flags=re.MULTILINE):
        title, _, body = section.partition("\n")
        if title.strip() in FRAMEWORK_EXTRAS:
            runs[FRAMEWORK_EXTRAS[title.strip()]] = re.findall(r"Run it with `(\S+)", body)
    return runs


def installed_requirements(line: str) -> list[Requirement]:
    """The requirements of a ``pip install`` line, the checkout (``.[extra]``) as paycheck-suite."""
    words = shlex.split(line, comments=True)
    assert words[:2] == ["pip", "install"], line
    return [
        Requirement(word.replace(".", "paycheck-suite", 1) if word.startswith(".") else word)
        for word in words[2:]
        if not word.startswith("-")
    ]


def programs_installed_by(requirements: list[Requirement]) -> set[str]:
    """The console scripts of everything ``requirements`` pull in, read from this venv."""
    scripts: set[str] = set()
    queue, seen = list(requirements), set()
    while queue:
        requirement = queue.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = importlib.metadata.distribution(requirement.name)
        scripts.update(ep.name for ep in dist.entry_points if ep.group == "console_scripts")
        for raw in dist.requires or []:
            dependency = Requirement(raw)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in extras
            ):
                queue.append(dependency)
    return scripts


def test_each_install_line_installs_the_program_its_framework_runs_with() -> None:
    runs = commands_the_page_runs(ROOT / "docs" / "getting-started" / "service-authors.md")
    lines = (SNIPPETS / "install_extras.sh").read_text(encoding="utf-8").splitlines()
    by_extra = {}
    for line in lines:
        requirements = installed_requirements(line)
        (extra,) = requirements[0].extras
        by_extra[extra] = programs_installed_by(requirements)

    assert sorted(runs) == sorted(FRAMEWORK_EXTRAS.values())
    for extra, programs in runs.items():
        assert programs, f"the {extra} section says how to run its example"
        for program in programs:
            assert program in by_extra[extra], f'"{extra}" installs no {program} command'


def test_the_openapi_check_snippet_finds_the_contracts_fresh() -> None:
    script = (SNIPPETS / "openapi_check.sh").read_text(encoding="utf-8")

    result = run_bash(script, cwd=ROOT, env=clean_env())

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


# --- serving ---------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(script: str, *, cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Run a serve snippet in the background; yields the server's URL once ``/readyz`` is 200."""
    port = free_port()
    process = subprocess.Popen(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        cwd=cwd,
        env={**env, "PAYCHECK_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_LIMIT
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the snippet exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{url}/readyz did not answer 200 within {_START_LIMIT:g} s")
            time.sleep(0.2)
        yield url
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the snippet's whole process group (bash, the server, its workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def catalog_of(url: str) -> dict[str, list[str]]:
    services = httpx.get(f"{url}/services").raise_for_status().json()["services"]
    return {s["serviceName"]: [m["methodName"] for m in s["methods"]] for s in services}


@pytest.mark.slow
def test_the_sqlite_snippet_serves_the_catalog_file(tmp_path: Path) -> None:
    shutil.copy(SNIPPETS / "catalog.toml", tmp_path / "catalog.toml")
    script = (SNIPPETS / "serve_sqlite.sh").read_text(encoding="utf-8")

    with serve(script, cwd=tmp_path, env=clean_env()) as url:
        assert catalog_of(url) == {"Online marketplace": ["getInfo", "placeOrder"]}
    assert (tmp_path / "paycheck.db").is_file()


@pytest.mark.slow
@pytest.mark.postgres
def test_the_postgres_snippet_migrates_and_serves_with_two_workers(
    postgres_url: str, tmp_path: Path
) -> None:
    script = (SNIPPETS / "serve_postgres.sh").read_text(encoding="utf-8")
    assert DOCUMENTED_POSTGRES in script

    with serve(
        script.replace(DOCUMENTED_POSTGRES, postgres_url), cwd=tmp_path, env=clean_env()
    ) as url:
        today = datetime.now(UTC).date()
        with PaycheckClient(url) as client:
            bill = client.create_bill("Weather", today, today)
            token = client.pay(bill.payment_artifact).token
            decisions = [client.check_token(token, "Weather", "getForecast") for _ in range(6)]
    assert all(decision.allowed for decision in decisions)
    assert not (tmp_path / "paycheck.db").exists()


class _Registry(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(REGISTRY_SERVICES).encode()
        status = 200 if self.path == "/allServices" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_the_registry_snippet_sells_what_the_registry_lists(
    registry_url: str, tmp_path: Path
) -> None:
    script = (SNIPPETS / "serve_registry.sh").read_text(encoding="utf-8")
    assert DOCUMENTED_REGISTRY in script

    with serve(
        script.replace(DOCUMENTED_REGISTRY, registry_url), cwd=tmp_path, env=clean_env()
    ) as url:
        assert catalog_of(url) == {"Maps": ["route"]}


# --- coverage of the directory ---------------------------------------------------------------


def test_every_snippet_file_is_run() -> None:
    run = {
        *PYTHON_SCRIPTS,
        *INSTALLS,
        "cli.sh",
        "fastapi_dependency.py",
        "openapi_check.sh",
        "serve_sqlite.sh",
        "catalog.toml",  # served by serve_sqlite.sh
        "serve_postgres.sh",
        "serve_registry.sh",
        # A user's project and its tests, run by tests/e2e/test_pytest_plugin.py.
        "shop.py",
        "conftest.py",
        "test_shop.py",
    }
    assert {path.name for path in SNIPPETS.iterdir()} == run
