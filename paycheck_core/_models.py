"""Results returned by the SDK: frozen dataclasses in the user's words.

Money is :class:`~decimal.Decimal` (two decimal places, as on the wire), dates are
:class:`~datetime.date`. Secrets (the payment artifact, the access token) are left out of
``repr()`` so that logging a result never leaks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

__all__ = [
    "AccessDecision",
    "Bill",
    "Method",
    "Payment",
    "PaymentInfo",
    "PricedMethod",
    "Service",
]


@dataclass(frozen=True, slots=True)
class Method:
    """A method of a service that is for sale, with its price per day."""

    name: str
    price_per_day: Decimal


@dataclass(frozen=True, slots=True)
class Service:
    """A service of the catalog (``GET /services``) with the methods it sells."""

    name: str
    methods: tuple[Method, ...]
    currency: str


@dataclass(frozen=True, slots=True)
class PricedMethod:
    """A line of a bill: a method and its price for the whole period."""

    name: str
    price: Decimal


@dataclass(frozen=True, slots=True)
class Bill:
    """A bill made by ``POST /bill``.

    ``payment_artifact`` is shown exactly once: keep it, it is the only way to pay the bill, read
    its payment and reset its token. ``bill_id``, ``currency``, ``expires_at`` and ``status`` are
    Paycheck's additions to the seed contract and are ``None`` when a server does not send them.
    """

    service: str
    date_from: date
    date_to: date
    methods: tuple[PricedMethod, ...]
    total_price: Decimal
    payment_artifact: str = field(repr=False)
    bill_id: str | None = None
    currency: str | None = None
    expires_at: datetime | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """The answer of ``POST /pay``: a message and a working access token.

    ``already_paid`` is true when the bill had been paid before (nothing was charged again; the
    token is a fresh one).
    """

    message: str
    token: str = field(repr=False)
    bill_id: str | None = None
    status: str | None = None
    paid_until: date | None = None
    already_paid: bool = False


@dataclass(frozen=True, slots=True)
class PaymentInfo:
    """The answer of ``POST /payment/info``: what a paid bill gives access to, and until when."""

    paid_until: date
    service: str
    methods: tuple[str, ...]
    date_from: date | None = None
    bill_id: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """Whether a token gives access to a method of a service (``POST /token/check``).

    Attributes:
        allowed: the request may go on.
        status: the HTTP status the decision stands for: 200 allowed, 401 the token is unknown,
            expired, revoked or malformed, 403 the token does not cover this service or method.
        service: the service that was asked about.
        method: the method that was asked about.
        paid_until: the last day the access is paid for (allowed decisions).
        reason: a sentence for people on why access was denied (or granted).
        max_age: seconds the decision stays true according to the server, if it said.
        valid_for: seconds an allowed decision stays true unless the token-event feed
            deactivates the token first (the ``Paycheck-Valid-For`` header), if the server
            said; a validator that follows the feed may keep the answer that long.
    """

    allowed: bool
    status: int
    service: str
    method: str
    paid_until: date | None = None
    reason: str | None = None
    max_age: int | None = None
    valid_for: int | None = None
