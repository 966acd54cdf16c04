"""The answer of ``POST /token/check`` as a plain function of the token's state. No I/O.

:func:`decide` says allowed (200), unknown or no longer/not yet valid (401) or not covering
the service or method (403), and for how many seconds the answer stays true: the
``Cache-Control: max-age`` a service may cache it for. A denial never names what the token
*does* cover, so a service learns only "allowed" or "denied".

The service is compared first: a token that is for another service gets one and the same
403, byte for byte, whatever its state, so that a service learns nothing of other services'
tokens (their paid days, a reset, a revocation). How long a grant may be cached is decided
in one place, :func:`grant_max_age_cap`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .domain import Period

__all__ = [
    "DENIAL_MAX_AGE",
    "MAX_AGE_CAP",
    "Decision",
    "TokenState",
    "decide",
    "grant_max_age_cap",
    "invalid_token",
]

MAX_AGE_CAP = 3600
"""No answer is cacheable for longer than an hour (the seed's rule): a token can be revoked."""

DENIAL_MAX_AGE = 60
"""Seconds a denial may be cached when nothing says when it would change."""


@dataclass(frozen=True, slots=True)
class TokenState:
    """What the database knows about a token.

    Attributes:
        deadline: when the token stops working (replaced or revoked); ``None`` while current.
        paid: the token's bill is paid.
        service: the service the bill is for.
        methods: the methods the bill bought.
        period: the paid days.
    """

    deadline: datetime | None
    paid: bool
    service: str
    methods: frozenset[str]
    period: Period


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a token check.

    Attributes:
        status: 200 allowed, 401 invalid token, 403 not covered.
        description: a sentence for people (the ``message`` of a 200, the ``description`` of a
            denial).
        max_age: seconds the answer stays true, between 0 and :data:`MAX_AGE_CAP`.
        paid_until: the last paid day, for a 200.
        valid_for: for a 200, the seconds until the grant stops being true unless an event
            of the token-event feed deactivates the token first (the end of the paid period,
            or of the grace a reset or a second payment began); not cut to the reset grace.
            Sent as ``Paycheck-Valid-For``, for validators that follow the feed.
    """

    status: int
    description: str
    max_age: int
    paid_until: date | None = None
    valid_for: int | None = None

    @property
    def allowed(self) -> bool:
        """The request may go on."""
        return self.status == 200


# One constant answer, so that nothing in it can differ with the token's state.
_NOT_FOR_THIS_SERVICE = Decision(
    403, "The token does not give access to this service", DENIAL_MAX_AGE
)


def grant_max_age_cap(*, reset_grace_seconds: int) -> int:
    """The longest a service may cache an allowed answer, in seconds.

    A token is deactivated three ways: ``/token/reset`` and a second ``/pay`` let it work
    ``reset_grace_seconds`` more, a revocation stops it at once. A grant may have been cached
    just before any of them, with no way to call it back; so no grant is cacheable for longer
    than the grace, and every service refuses a token at most ``reset_grace_seconds`` after
    it was reset, paid for again or revoked (a replaced token: when its grace ends, as the
    server does). Never above :data:`MAX_AGE_CAP`; 0 when the grace is 0: no grant is cached.

    This is the one rule that bounds a grant's life: once services follow the token-event
    feed, which tells them of a deactivation as it happens, it may let grants live longer.

    Args:
        reset_grace_seconds: the server's ``PAYCHECK_RESET_GRACE_SECONDS``.
    """
    return max(0, min(MAX_AGE_CAP, reset_grace_seconds))


def _seconds_until(moment: datetime, now: datetime) -> int:
    seconds = int((moment - now).total_seconds())
    return max(0, min(MAX_AGE_CAP, seconds))


def invalid_token() -> Decision:
    """The answer for a token that is malformed or unknown."""
    return Decision(401, "Invalid or expired token", DENIAL_MAX_AGE)


def decide(
    state: TokenState | None,
    *,
    service: str,
    method: str,
    now: datetime,
    max_grant_age: int,
) -> Decision:
    """Whether a token in ``state`` gives access to ``method`` of ``service`` at ``now``.

    Args:
        state: the token's state, or ``None`` when the token is unknown.
        service: the service asking.
        method: the method asked for.
        now: the current instant (timezone-aware).
        max_grant_age: the longest an allowed answer may be cached, from
            :func:`grant_max_age_cap`.

    Example::

        >>> decide(None, service="Weather", method="getForecast", now=now, max_grant_age=300).status
        401
    """
    if state is None:
        return invalid_token()
    # Before anything that depends on the token's state: another service's token gets the
    # same answer whether it is paid, active, expired, not yet active, replaced or revoked.
    if state.service != service:
        return _NOT_FOR_THIS_SERVICE
    if not state.paid:
        return invalid_token()
    if state.deadline is not None and state.deadline <= now:
        return Decision(401, "The token was replaced or revoked", DENIAL_MAX_AGE)
    if now < state.period.starts_at:
        return Decision(
            401,
            f"The token is not active before {state.period.date_from.isoformat()} (UTC)",
            max(1, _seconds_until(state.period.starts_at, now)),
        )
    if now >= state.period.ends_at:
        return Decision(
            401,
            f"The token expired at the end of {state.period.date_to.isoformat()} (UTC)",
            DENIAL_MAX_AGE,
        )
    if method not in state.methods:
        return Decision(
            403, f"The token does not give access to the method {method!r}", DENIAL_MAX_AGE
        )
    stops = state.period.ends_at
    if state.deadline is not None:
        stops = min(stops, state.deadline)
    valid_for = max(0, int((stops - now).total_seconds()))
    max_age = min(valid_for, MAX_AGE_CAP, max_grant_age)
    return Decision(200, "Access granted", max_age, state.period.date_to, valid_for)
