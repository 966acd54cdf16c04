"""The reference payment server of Paycheck (``paycheck-server``).

Operators run it from the command line (``paycheck-server --help``); programs embed it with
:func:`create_app`::

    from paycheck_server import Settings, create_app

    app = create_app(Settings(database_url="postgresql+asyncpg://paycheck@db/paycheck"))
"""

from __future__ import annotations

from ._version import __version__
from .api.app import create_app
from .clock import Clock, SystemClock
from .payments import (
    Charge,
    ChargeDeclined,
    PaymentProvider,
    SandboxProvider,
)
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
