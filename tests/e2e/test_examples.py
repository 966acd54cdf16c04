"""The walk-through of ``examples/README.md``, run for real against each of the four examples.

The commands are read from the README itself, so the README cannot drift from what works: the
blocks after ``<!-- walkthrough: services -->`` start the examples, the blocks after
``<!-- walkthrough: client -->`` are run, in order, as one bash script (``set -euo pipefail``).
Each terminal's block starts by activating the virtualenv (``. .venv/bin/activate``), as a new
terminal must: the commands run from a copy of the checkout whose ``.venv`` is this test's
virtualenv, with that virtualenv's ``bin`` taken off ``PATH``, so a step that forgets to
activate it fails with "command not found".
Each ``curl`` line ends with a comment naming the status it gets; the test compares them with the
status lines curl prints. Two things change, and only these: the ports (a free one instead of
8001-8004, everywhere in the commands) and ``PAYCHECK_SERVER_URL``, which points at the
``live_server`` payment server process of ``tests/e2e/conftest.py``. Where curl is not
installed, a stand-in with the same options (``-s -i -X -H``), written with httpx, takes its
place on ``PATH``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
README = EXAMPLES / "README.md"
BIN = Path(sys.executable).parent
_START_LIMIT = 60.0  # seconds an example may take to start listening on a busy machine
_BLOCK = re.compile(r"<!-- walkthrough: (\w+) -->\n```sh\n(.*?)\n```", re.DOTALL)
_STATUS_COMMENT = re.compile(r"#\s*(\d{3})\b")
# A body without a final newline runs into the next response's status line: no ^ anchor.
_STATUS_LINE = re.compile(r"HTTP/[\d.]+ (\d{3}) ")
_PORT = re.compile(r"--port (\d+)")
ACTIVATE = ". .venv/bin/activate"

CURL_STAND_IN = '''\
"""curl -s -i [-X METHOD] [-H 'Name: value'] URL, with httpx (curl is not installed here)."""
import sys

import httpx

args, method, headers, url, include = sys.argv[1:], "GET", {}, None, False
while args:
    arg = args.pop(0)
    if arg in ("-X", "--request"):
        method = args.pop(0)
    elif arg in ("-H", "--header"):
        name, _, value = args.pop(0).partition(":")
        headers[name.strip()] = value.strip()
    elif arg.startswith("-") and not arg.startswith("--"):
        include = include or "i" in arg
    else:
        url = arg
response = httpx.request(method, url, headers=headers)
if include:
    print(f"HTTP/1.1 {response.status_code} {response.reason_phrase}")
    for name, value in response.headers.items():
        print(f"{name}: {value}")
    print()
print(response.text)
'''


@dataclass(frozen=True)
class Walkthrough:
    """The README's commands, by step."""

    server: list[str]
    services_setup: str  # the first line of the services' terminal
    services: dict[str, str]  # example module -> the command that starts it
    client: str  # the client steps as one script
    expected_statuses: list[int]  # of the curl lines, in order
    documented_port: str  # the port the client steps call


def read_walkthrough(text: str) -> Walkthrough:
    """Parse the README's walk-through blocks (see the module docstring)."""
    blocks: dict[str, list[str]] = {}
    for step, body in _BLOCK.findall(text):
        blocks.setdefault(step, []).append(body)
    assert set(blocks) == {"server", "services", "client"}, f"walk-through steps: {set(blocks)}"
    services = {}
    setup, *commands = blocks["services"][0].splitlines()
    for line in commands:
        module = re.search(r"(\w+_service)\b", line)
        assert module is not None, f"no example module in {line!r}"
        services[module.group(1)] = line.strip()
    client = "\n".join(blocks["client"])
    curl_lines = [line for line in client.splitlines() if line.startswith("curl ")]
    statuses = []
    for line in curl_lines:
        found = _STATUS_COMMENT.search(line)
        assert found is not None, f"a curl line of the README says no status: {line!r}"
        statuses.append(int(found.group(1)))
    ports = set(re.findall(r"127\.0\.0\.1:(\d+)/", client))
    assert len(ports) == 1, f"the client steps call one service, not ports {ports}"
    return Walkthrough(
        server=blocks["server"][0].splitlines(),
        services_setup=setup,
        services=services,
        client=client,
        expected_statuses=statuses,
        documented_port=ports.pop(),
    )


WALKTHROUGH = read_walkthrough(README.read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_url(live_server: Any) -> str:
    """The URL of the ``live_server`` payment server process (tests/e2e/conftest.py)."""
    return str(live_server.url)


IN_A_VENV = sys.prefix != sys.base_prefix


@pytest.fixture
def shell_env(live_url: str, tmp_path: Path) -> dict[str, str]:
    """A new terminal's environment, pointed at the live server: the venv is not active."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PAYCHECK_")}
    env.pop("VIRTUAL_ENV", None)
    path = env.get("PATH", "").split(os.pathsep)
    if IN_A_VENV:
        path = [entry for entry in path if entry and Path(entry).resolve() != BIN.resolve()]
    if shutil.which("curl") is None:
        path.insert(0, str(write_curl_stand_in(tmp_path / "bin").parent))
    env["PATH"] = os.pathsep.join(path)
    env["PAYCHECK_SERVER_URL"] = live_url
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A reader's checkout: ``examples/`` with the four examples, ``.venv`` this test's venv."""
    root = tmp_path / "checkout"
    (root / "examples").mkdir(parents=True)
    for example in EXAMPLES.glob("*_service.py"):
        shutil.copy(example, root / "examples" / example.name)
    if IN_A_VENV and (Path(sys.prefix) / "bin" / "activate").is_file():
        (root / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    else:  # not a venv (a system Python): an activate script that does what one would
        (root / ".venv" / "bin").mkdir(parents=True)
        (root / ".venv" / "bin" / "activate").write_text(f'export PATH="{BIN}:$PATH"\n')
    return root


def write_curl_stand_in(directory: Path) -> Path:
    """Write the httpx stand-in for curl as ``directory/curl``, executable."""
    directory.mkdir(parents=True, exist_ok=True)
    stand_in = directory / "curl"
    stand_in.write_text(f"#!{sys.executable}\n{CURL_STAND_IN}", encoding="utf-8")
    stand_in.chmod(0o755)
    return stand_in


def wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + _START_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"the example exited with {process.returncode}:\n{output}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/getInfo", timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
        else:
            return
    pytest.fail(f"the example did not listen on port {port} within {_START_LIMIT:g} s")


@pytest.fixture
def running_example(
    request: pytest.FixtureRequest, shell_env: dict[str, str], checkout: Path
) -> Iterator[tuple[str, int]]:
    """Start the README's command for one example, on a free port; yields (module, port)."""
    module: str = request.param
    command = WALKTHROUGH.services[module]
    port = free_port()
    setup = WALKTHROUGH.services_setup
    process = subprocess.Popen(
        ["bash", "-c", f"{setup} && exec {_PORT.sub(f'--port {port}', command)}"],
        cwd=checkout,
        env=shell_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until_listening(process, port)
        yield module, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_the_walkthrough_starts_the_server_with_no_arguments() -> None:
    assert WALKTHROUGH.server == [ACTIVATE, "paycheck-server"]


def test_every_terminal_of_the_walkthrough_activates_the_venv_first() -> None:
    assert WALKTHROUGH.server[0] == ACTIVATE
    assert WALKTHROUGH.services_setup == f"{ACTIVATE} && cd examples"
    assert WALKTHROUGH.client.splitlines()[0] == f"{ACTIVATE} && cd examples"


def test_the_walkthroughs_artifact_file_is_ignored_by_git() -> None:
    patterns = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "artifact.txt" in patterns  # anywhere in the tree: examples/ is where the steps run
    assert "--save artifact.txt" in WALKTHROUGH.client


def test_the_walkthrough_starts_each_of_the_four_examples() -> None:
    assert sorted(WALKTHROUGH.services) == [
        "fastapi_service",
        "flask_service",
        "starlette_service",
        "wsgi_service",
    ]
    assert all(path.exists() for path in (EXAMPLES / f"{m}.py" for m in WALKTHROUGH.services))


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = f"{self.command} {self.headers.get('Authorization')}".encode()
        self.send_response(403)
        self.send_header("WWW-Authenticate", 'Bearer realm="echo"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - the names http.server dispatches to

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_curl_stand_in_prints_what_curl_si_prints(tmp_path: Path) -> None:
    stand_in = write_curl_stand_in(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/placeOrder"
        result = subprocess.run(
            [str(stand_in), "-si", "-X", "POST", "-H", "Authorization: Bearer pct_x", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    assert _STATUS_LINE.findall(result.stdout) == ["403"]
    assert 'www-authenticate: Bearer realm="echo"' in result.stdout
    assert result.stdout.rstrip().endswith("POST Bearer pct_x")


@pytest.mark.slow
@pytest.mark.parametrize("running_example", sorted(WALKTHROUGH.services), indirect=True)
def test_the_readme_walkthrough_works_against_the_example(
    running_example: tuple[str, int], shell_env: dict[str, str], checkout: Path
) -> None:
    _, port = running_example
    script = WALKTHROUGH.client.replace(
        f"127.0.0.1:{WALKTHROUGH.documented_port}/", f"127.0.0.1:{port}/"
    )
    work = checkout / "examples"

    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        cwd=checkout,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    statuses = [int(status) for status in _STATUS_LINE.findall(result.stdout)]
    assert statuses == WALKTHROUGH.expected_statuses, result.stdout
    output = result.stdout.lower()
    assert 'www-authenticate: bearer realm="online marketplace"' in output
    assert 'error="insufficient_scope"' in output
    assert "allowed: the token gives access to getInfo" in result.stdout  # paycheck check
    assert (work / "artifact.txt").stat().st_mode & 0o777 == 0o600
