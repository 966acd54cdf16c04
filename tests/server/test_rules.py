"""The pure rules, without a database: periods, prices, access decisions and max-age."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from paycheck_server import access
from paycheck_server.access import MAX_AGE_CAP, Decision, TokenState, grant_max_age_cap
from paycheck_server.catalog import CatalogMethod, CatalogService
from paycheck_server.domain import Period, minor_to_wire, quote, validate_period
from paycheck_server.errors import BadRequestError, NotFoundError

DAY = date(2030, 1, 1)
NOON = datetime(2030, 1, 1, 12, tzinfo=UTC)
SHOP = CatalogService(
    "Shop",
    (
        CatalogMethod("getInfo", 120),
        CatalogMethod("search", 250),
        CatalogMethod("audit", 0, private=True),
    ),
)


def state(**changes: object) -> TokenState:
    values: dict[str, object] = {
        "deadline": None,
        "paid": True,
        "service": "Shop",
        "methods": frozenset({"getInfo"}),
        "period": Period(DAY, DAY + timedelta(days=9)),
    }
    values.update(changes)
    return TokenState(**values)  # type: ignore[arg-type]


def decide(
    state: TokenState | None,
    *,
    service: str,
    method: str,
    now: datetime,
    max_grant_age: int = MAX_AGE_CAP,
) -> Decision:
    """:func:`access.decide` with no cap on grants but the hour, unless a test sets one."""
    return access.decide(
        state, service=service, method=method, now=now, max_grant_age=max_grant_age
    )


def test_a_period_counts_both_ends() -> None:
    assert validate_period(DAY, DAY + timedelta(days=2), today=DAY, max_days=366).days == 3


def test_a_period_may_be_exactly_the_maximum_length() -> None:
    assert validate_period(DAY, DAY + timedelta(days=365), today=DAY, max_days=366).days == 366


def test_a_period_starting_yesterday_is_refused() -> None:
    with pytest.raises(BadRequestError, match="dateFrom"):
        validate_period(DAY - timedelta(days=1), DAY, today=DAY, max_days=366)


def test_a_reversed_period_is_refused() -> None:
    with pytest.raises(BadRequestError, match="dateTo"):
        validate_period(DAY + timedelta(days=1), DAY, today=DAY, max_days=366)


def test_a_period_covers_whole_utc_days() -> None:
    period = Period(DAY, DAY)

    assert period.starts_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert period.ends_at == datetime(2030, 1, 2, tzinfo=UTC)


def test_a_line_price_is_the_price_per_day_times_the_days() -> None:
    priced = quote(SHOP, ["search"], Period(DAY, DAY + timedelta(days=2)))

    assert [(line.method, line.price_minor) for line in priced.lines] == [("search", 750)]


def test_the_total_is_the_sum_of_the_lines() -> None:
    assert quote(SHOP, None, Period(DAY, DAY)).total_minor == 370


def test_no_methods_means_every_public_method() -> None:
    assert [line.method for line in quote(SHOP, None, Period(DAY, DAY)).lines] == [
        "getInfo",
        "search",
    ]


def test_a_method_listed_twice_is_bought_once() -> None:
    assert len(quote(SHOP, ["getInfo", "getInfo"], Period(DAY, DAY)).lines) == 1


def test_a_private_method_cannot_be_bought() -> None:
    with pytest.raises(NotFoundError, match="audit"):
        quote(SHOP, ["audit"], Period(DAY, DAY))


def test_money_goes_on_the_wire_with_two_decimals() -> None:
    assert minor_to_wire(27712) == 277.12
    assert minor_to_wire(5) == 0.05


def test_an_unknown_token_is_denied_with_401() -> None:
    assert decide(None, service="Shop", method="getInfo", now=NOON).status == 401


def test_a_token_of_an_unpaid_bill_is_denied_with_401() -> None:
    assert decide(state(paid=False), service="Shop", method="getInfo", now=NOON).status == 401


def test_a_token_past_its_deadline_is_denied_with_401() -> None:
    decision = decide(state(deadline=NOON), service="Shop", method="getInfo", now=NOON)

    assert decision.status == 401


def test_a_token_is_allowed_for_a_bought_method_of_its_service() -> None:
    decision = decide(state(), service="Shop", method="getInfo", now=NOON)

    assert decision.allowed
    assert decision.paid_until == DAY + timedelta(days=9)


def test_another_service_is_a_403() -> None:
    assert decide(state(), service="Weather", method="getInfo", now=NOON).status == 403


def test_a_method_not_bought_is_a_403() -> None:
    assert decide(state(), service="Shop", method="search", now=NOON).status == 403


def test_an_allowed_answer_is_cached_at_most_an_hour() -> None:
    assert decide(state(), service="Shop", method="getInfo", now=NOON).max_age == MAX_AGE_CAP


def test_an_allowed_answer_is_cached_until_the_grace_deadline() -> None:
    deadline = NOON + timedelta(seconds=42)

    decision = decide(state(deadline=deadline), service="Shop", method="getInfo", now=NOON)

    assert decision.max_age == 42


def test_an_allowed_answer_is_cached_until_the_period_ends() -> None:
    late = datetime(2030, 1, 10, 23, 59, 30, tzinfo=UTC)

    assert decide(state(), service="Shop", method="getInfo", now=late).max_age == 30


def test_the_last_second_of_the_period_is_allowed_and_the_next_is_not() -> None:
    last = datetime(2030, 1, 10, 23, 59, 59, tzinfo=UTC)

    assert decide(state(), service="Shop", method="getInfo", now=last).allowed
    after = last + timedelta(seconds=1)
    assert decide(state(), service="Shop", method="getInfo", now=after).status == 401


def test_a_not_yet_active_token_is_denied_until_its_first_day() -> None:
    early = datetime(2029, 12, 31, 23, 59, 0, tzinfo=UTC)

    decision = decide(state(), service="Shop", method="getInfo", now=early)

    assert (decision.status, decision.max_age) == (401, 60)


def test_a_denial_never_names_what_the_token_covers() -> None:
    for method in ("search", "getInfo"):
        decision = decide(state(), service="Weather", method=method, now=NOON)
        assert "Shop" not in decision.description
        assert "getInfo" not in decision.description or method == "getInfo"


# --- how long a grant may be cached ---------------------------------------------------------


@pytest.mark.parametrize(
    ("grace", "cap"), [(0, 0), (1, 1), (5, 5), (300, 300), (3600, 3600), (86400, 3600)]
)
def test_a_grant_is_cacheable_for_the_reset_grace_and_never_above_an_hour(
    grace: int, cap: int
) -> None:
    assert grant_max_age_cap(reset_grace_seconds=grace) == cap


@pytest.mark.parametrize("cap", [0, 1, 5, 300])
def test_no_grant_outlives_the_cap_however_long_the_token_stays_valid(cap: int) -> None:
    decision = decide(state(), service="Shop", method="getInfo", now=NOON, max_grant_age=cap)

    assert (decision.allowed, decision.max_age) == (True, cap)


def test_a_grant_ending_before_the_cap_keeps_its_own_max_age() -> None:
    deadline = NOON + timedelta(seconds=3)

    decision = decide(state(deadline=deadline), service="Shop", method="getInfo", now=NOON)

    assert decision.max_age == 3


# --- another service's token ----------------------------------------------------------------

STATES = {
    "active": state(),
    "not yet active": state(period=Period(DAY + timedelta(days=1), DAY + timedelta(days=9))),
    "active next year": state(period=Period(DAY + timedelta(days=365), DAY + timedelta(days=366))),
    "expired": state(period=Period(DAY - timedelta(days=9), DAY - timedelta(days=1))),
    "in its grace": state(deadline=NOON + timedelta(seconds=42)),
    "replaced or revoked": state(deadline=NOON),
    "unpaid": state(paid=False),
    "for every method": state(methods=frozenset({"getInfo", "search", "placeOrder"})),
}


@pytest.mark.parametrize("method", ["getInfo", "search", "nothingLikeIt"])
@pytest.mark.parametrize("name", STATES)
def test_another_services_token_gets_one_answer_whatever_its_state(name: str, method: str) -> None:
    decision = decide(STATES[name], service="Weather", method=method, now=NOON)

    assert decision == Decision(403, "The token does not give access to this service", 60)
