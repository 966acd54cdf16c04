"""How ``paycheck-server serve`` runs uvicorn: its HTTP protocol and its logging.

- **HTTP**: :class:`~paycheck_server.http_protocol.HeadLimitedHttpToolsProtocol`, which refuses
  a request head past ``PAYCHECK_MAX_HEADER_BYTES`` / ``PAYCHECK_MAX_HEADERS`` while reading
  it. Without ``httptools`` uvicorn's h11 protocol is used, with its buffer for an unfinished
  head sized from the same settings (h11 answers a larger head with 400); the app's
  :class:`~paycheck_server.api.header_limit.HeaderLimitMiddleware` enforces the exact limits
  under either.
- **Logs**: uvicorn's format on stderr (access log on stdout), for uvicorn's loggers and every
  other one (the root logger). The app that ``paycheck-server`` serves puts these handlers
  behind :class:`~paycheck_server.redaction.RedactSecrets` when it is built
  (:func:`~paycheck_server.api.app.app_from_environment`).

uvicorn hands its options to each worker process, which applies the logging configuration
before it starts answering the supervisor's health checks (a worker silent for 5 s is
killed), and loads the protocol and the app after. Importing the server takes seconds on a
busy machine, so the configuration names nothing of the server, and the protocol is named by
its import path and reads its limits from the ``PAYCHECK_*`` variables, as the app does.
"""

from __future__ import annotations

import copy
import importlib.util
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from .api.header_limit import HeadLimits
from .settings import Settings

__all__ = ["PROTOCOL", "log_config", "uvicorn_options"]

PROTOCOL = "paycheck_server.http_protocol:HeadLimitedHttpToolsProtocol"
"""The import path of the HTTP protocol ``paycheck-server`` serves with."""


def log_config(level: str) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` configuration of ``paycheck-server``.

    Args:
        level: the level of the root logger (``"info"``, ``"debug"``, ...).
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["root"] = {"handlers": ["default"], "level": level.upper()}
    return config


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of :func:`uvicorn.run` for ``settings`` (all but the app and the
    address): the HTTP protocol, the log configuration and level."""
    options: dict[str, Any] = {
        "log_config": log_config(settings.log_level),
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
