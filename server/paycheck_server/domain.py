"""Paycheck's billing rules as plain functions: periods, prices and bill expiry. No I/O.

- A period is whole UTC days ``date_from..date_to``, both inclusive; ``date_to >= date_from``,
  ``date_from`` is not before today, and it is at most ``max_days`` long.
- Money is integer minor units (cents); a line price is the method's price per day times the
  days, and the total is the sum of the lines.
- An unpaid bill expires ``ttl`` after it was made.

Example::

    >>> from datetime import date
    >>> period = validate_period(date(2026, 1, 1), date(2026, 1, 10), today=date(2026, 1, 1),
    ...                          max_days=366)
    >>> period.days
    10
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from .catalog import CatalogService
from .errors import BadRequestError, NotFoundError

__all__ = [
    "BillLine",
    "Period",
    "Quote",
    "bill_deadline",
    "minor_to_wire",
    "quote",
    "validate_period",
]


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days from ``date_from`` to ``date_to``, both inclusive."""

    date_from: date
    date_to: date

    @property
    def days(self) -> int:
        """How many days the period has (1 when ``date_from == date_to``)."""
        return (self.date_to - self.date_from).days + 1

    @property
    def starts_at(self) -> datetime:
        """The first instant of the period: ``date_from`` 00:00 UTC."""
        return datetime.combine(self.date_from, time(), UTC)

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period: the day after ``date_to``, 00:00 UTC."""
        return datetime.combine(self.date_to + timedelta(days=1), time(), UTC)


@dataclass(frozen=True, slots=True)
class BillLine:
    """A method bought on a bill and its price for the whole period, in minor units."""

    method: str
    price_minor: int


@dataclass(frozen=True, slots=True)
class Quote:
    """What a bill will say: the service, the period, the lines and their total."""

    service: str
    period: Period
    lines: tuple[BillLine, ...]

    @property
    def total_minor(self) -> int:
        """The sum of the line prices."""
        return sum(line.price_minor for line in self.lines)


def validate_period(date_from: date, date_to: date, *, today: date, max_days: int) -> Period:
    """Check a requested period against the rules and return it.

    Args:
        date_from: the first day asked for.
        date_to: the last day asked for (inclusive).
        today: the current UTC date.
        max_days: the longest period sold.

    Raises:
        BadRequestError: ``date_to`` is before ``date_from``, ``date_from`` is in the past,
            ``date_to`` is the last day a date can hold (9999-12-31), or the period is longer
            than ``max_days``; the description names the field.
    """
    if date_to < date_from:
        raise BadRequestError(
            f"dateTo ({date_to.isoformat()}) must not be before dateFrom ({date_from.isoformat()})"
        )
    if date_from < today:
        raise BadRequestError(
            f"dateFrom ({date_from.isoformat()}) is in the past; "
            f"the earliest is today, {today.isoformat()} (UTC)"
        )
    if date_to >= date.max:
        # A token works until the midnight after dateTo, which does not exist after 9999-12-31.
        raise BadRequestError(f"dateTo must be before {date.max.isoformat()}")
    period = Period(date_from, date_to)
    if period.days > max_days:
        raise BadRequestError(
            f"the period dateFrom..dateTo is {period.days} days long; at most {max_days} days"
        )
    return period


def quote(service: CatalogService, methods: Sequence[str] | None, period: Period) -> Quote:
    """Price ``methods`` of ``service`` for ``period``.

    Args:
        service: the catalog's service.
        methods: the method names asked for, or ``None`` for every method for sale. A name
            listed twice is bought once.
        period: a validated period.

    Raises:
        BadRequestError: ``methods`` is an empty list.
        NotFoundError: a method is unknown or private (both read "not found": a private method
            is not for sale and its existence is nobody's business), or the service sells none.
    """
    if methods is None:
        chosen = list(service.methods_for_sale)
        if not chosen:
            raise NotFoundError(f"Service {service.name!r} has no methods for sale")
    else:
        if not methods:
            raise BadRequestError("methods must not be empty; omit it to buy every method")
        chosen = []
        for name in dict.fromkeys(methods):
            method = service.method_for_sale(name)
            if method is None:
                raise NotFoundError(f"Method {name!r} of service {service.name!r} not found")
            chosen.append(method)
    lines = tuple(
        BillLine(method.name, method.price_per_day_minor * period.days) for method in chosen
    )
    return Quote(service.name, period, lines)


def bill_deadline(created_at: datetime, ttl_seconds: int) -> datetime:
    """When an unpaid bill made at ``created_at`` expires."""
    return created_at + timedelta(seconds=ttl_seconds)


def minor_to_wire(minor: int) -> float:
    """Minor units as the wire's 2-decimal JSON number: ``1234`` → ``12.34``."""
    return float(Decimal(minor).scaleb(-2))
