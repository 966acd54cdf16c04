"""The reference payment server of Paycheck (``paycheck-server``).

Operators run it from the command line (``paycheck-server --help``); programs embed it with
:func:`create_app`::

    from paycheck_server import Settings, create_app

    app = create_app(Settings(database_url="postgresql+asyncpg://paycheck@db/paycheck"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .api.app import create_app
    from .clock import Clock, SystemClock
    from .payments import Charge, ChargeDeclined, PaymentProvider, SandboxProvider
    from .settings import Settings

__all__ = [
    "Charge",
    "ChargeDeclined",
    "Clock",
    "PaymentProvider",
    "SandboxProvider",
    "Settings",
    "SystemClock",
    "__version__",
    "create_app",
]

# Imported on first use: pytest loads paycheck_server.pytest_plugin in every session of every
# project that installed paycheck-suite, with or without the server extra, and importing
# FastAPI and SQLAlchemy there would cost each of those sessions seconds (or fail).
_LAZY = {
    "create_app": ".api.app",
    "Clock": ".clock",
    "SystemClock": ".clock",
    "Charge": ".payments",
    "ChargeDeclined": ".payments",
    "PaymentProvider": ".payments",
    "SandboxProvider": ".payments",
    "Settings": ".settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
