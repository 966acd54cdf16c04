"""Paycheck's core SDK: talk to the payment server and check access tokens.

Clients buy access with :class:`PaycheckClient` (or :class:`AsyncPaycheckClient`); services
check the tokens they receive with :class:`TokenValidator` (or :class:`AsyncTokenValidator`),
which caches answers for at most an hour and follows the payment server's token-event feed, so
that a deactivated token is refused within seconds. The token format lives in
:mod:`paycheck_core.tokens`.

Example::

    from datetime import date
    from paycheck_core import PaycheckClient

    with PaycheckClient("http://127.0.0.1:8000") as client:
        bill = client.create_bill("Online marketplace", date(2026, 12, 1), date(2026, 12, 31))
        token = client.pay(bill.payment_artifact).token
"""

from __future__ import annotations

from ._client import AsyncPaycheckClient, PaycheckClient
from ._exceptions import (
    APIError,
    BadRequestError,
    NotFoundError,
    PaycheckError,
    PaymentDeclinedError,
    PaymentServiceUnavailable,
)
from ._feed_core import FeedStats
from ._models import AccessDecision, Bill, Method, Payment, PaymentInfo, PricedMethod, Service
from ._validator import MAX_CACHE_TTL, AsyncTokenValidator, TokenValidator, ValidatorStats

__version__ = "0.1.0"

__all__ = [
    "MAX_CACHE_TTL",
    "APIError",
    "AccessDecision",
    "AsyncPaycheckClient",
    "AsyncTokenValidator",
    "BadRequestError",
    "Bill",
    "FeedStats",
    "Method",
    "NotFoundError",
    "PaycheckClient",
    "PaycheckError",
    "Payment",
    "PaymentDeclinedError",
    "PaymentInfo",
    "PaymentServiceUnavailable",
    "PricedMethod",
    "Service",
    "TokenValidator",
    "ValidatorStats",
    "__version__",
]
