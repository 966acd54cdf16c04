"""What ``paycheck-server serve`` hands to uvicorn: the protocol that limits request heads,
and a logging configuration; and what a worker process does with them."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from uvicorn.importer import import_from_string

from paycheck_server import Settings
from paycheck_server.api.header_limit import HeadLimits
from paycheck_server.http_protocol import HeadLimitedHttpToolsProtocol
from paycheck_server.serving import uvicorn_options


def test_the_server_runs_the_protocol_that_limits_request_heads() -> None:
    options = uvicorn_options(Settings())

    assert import_from_string(options["http"]) is HeadLimitedHttpToolsProtocol


def test_without_httptools_h11_buffers_no_more_than_a_head_within_the_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "httptools", None)
    settings = Settings(max_header_bytes=4096, max_headers=20)

    options = uvicorn_options(settings)

    assert options["http"] == "h11"
    limits = HeadLimits(max_header_bytes=4096, max_headers=20)
    assert options["h11_max_incomplete_event_size"] == limits.max_raw_head_bytes


def test_the_log_level_applies_to_every_logger() -> None:
    options = uvicorn_options(Settings(log_level="warning"))

    assert options["log_level"] == "warning"
    assert options["log_config"]["root"] == {"handlers": ["default"], "level": "WARNING"}
    assert options["server_header"] is False


# uvicorn's supervisor kills a worker that does not answer its health checks within 5 s, and
# the worker answers only once it has unpickled its Config and applied the log configuration.
# Importing paycheck_server there (fastapi, sqlalchemy, ...) took longer than that on a busy
# machine: every worker was killed and replaced, forever.
SUPERVISOR = """
import base64, pickle, sys
import uvicorn
from paycheck_server import Settings
from paycheck_server.serving import uvicorn_options
config = uvicorn.Config(
    "paycheck_server.api.app:app_from_environment", factory=True, workers=2,
    **uvicorn_options(Settings()),
)
sys.stdout.write(base64.b64encode(pickle.dumps(config)).decode())
"""
WORKER = """
import base64, json, pickle, sys
config = pickle.loads(base64.b64decode(sys.stdin.read()))
config.configure_logging()
sys.stdout.write(json.dumps(sorted(name for name in sys.modules if "paycheck" in name)))
"""


def test_a_worker_imports_nothing_of_the_server_before_it_answers_health_checks() -> None:
    pickled = subprocess.run(
        [sys.executable, "-c", SUPERVISOR], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    base64.b64decode(pickled, validate=True)

    worker = subprocess.run(
        [sys.executable, "-c", WORKER],
        input=pickled,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert json.loads(worker.stdout) == []
