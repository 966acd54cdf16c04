"""How ``paycheck-server serve`` runs uvicorn: its HTTP protocol.

- **HTTP**: :class:`~paycheck_server.http_protocol.HeadLimitedHttpToolsProtocol`, which refuses
  a request head past ``PAYCHECK_MAX_HEADER_BYTES`` / ``PAYCHECK_MAX_HEADERS`` while reading
  it. Without ``httptools`` uvicorn's h11 protocol is used, with its buffer for an unfinished
  head sized from the same settings (h11 answers a larger head with 400); the app's
  :class:`~paycheck_server.api.header_limit.HeaderLimitMiddleware` enforces the exact limits
  under either.

uvicorn hands its options to each worker process, which unpickles them before it starts
answering the supervisor's health checks (a worker silent for 5 s is killed), and loads the
protocol and the app after. Importing the server takes seconds on a busy machine, so the
protocol is named by its import path and reads its limits from the ``PAYCHECK_*``
variables, as the app does.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .api.header_limit import HeadLimits
from .settings import Settings

__all__ = ["PROTOCOL", "uvicorn_options"]

PROTOCOL = "paycheck_server.http_protocol:HeadLimitedHttpToolsProtocol"
"""The import path of the HTTP protocol ``paycheck-server`` serves with."""


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of :func:`uvicorn.run` for ``settings`` (all but the app and the
    address): the HTTP protocol and the log level."""
    options: dict[str, Any] = {
        "log_level": settings.log_level,
        "server_header": False,
    }
    if importlib.util.find_spec("httptools") is None:
        limits = HeadLimits.from_settings(settings)
        options["http"] = "h11"
        options["h11_max_incomplete_event_size"] = limits.max_raw_head_bytes
    else:
        options["http"] = PROTOCOL
    return options
