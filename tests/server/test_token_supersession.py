"""At most one current token and one in its grace per bill, whichever endpoint issued them.

``/pay`` of a paid bill and ``/token/reset`` both issue a new current token; the one it
replaces works for the grace period, and a token already in its grace stops at once. The
property is checked over random sequences of payments (with and without an
``Idempotency-Key``, and replays of one), resets and waits, by asking ``/token/check`` about
every token ever issued for the bill.
"""

from __future__ import annotations

import uuid
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import START, Api

Step = tuple[str, int]

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.just(0)),
        st.tuples(st.just("pay with a new key"), st.just(0)),
        st.tuples(st.just("replay a key"), st.integers(0, 9)),
        st.tuples(st.just("reset"), st.just(0)),
        st.tuples(st.just("wait"), st.integers(1, 400)),
    ),
    max_size=12,
)


async def working(api: Api, issued: list[str]) -> list[str]:
    return [token for token in issued if (await api.check(token)).status_code == 200]


async def test_twenty_payments_of_a_paid_bill_leave_two_working_tokens(api: Api) -> None:
    artifact = await api.artifact()

    issued = [(await api.pay(artifact)).json()["token"] for _ in range(20)]

    assert await working(api, issued) == issued[-2:]


async def test_a_payment_after_a_reset_stops_the_token_in_its_grace(api: Api) -> None:
    artifact = await api.artifact()
    paid = (await api.pay(artifact)).json()["token"]
    reset = (await api.reset(artifact)).json()["token"]

    again = (await api.pay(artifact)).json()["token"]

    assert await working(api, [paid, reset, again]) == [reset, again]


async def test_a_reset_after_a_second_payment_stops_the_token_in_its_grace(api: Api) -> None:
    artifact = await api.artifact()
    first = (await api.pay(artifact)).json()["token"]
    second = (await api.pay(artifact)).json()["token"]

    reset = (await api.reset(artifact)).json()["token"]

    assert await working(api, [first, second, reset]) == [second, reset]


@settings(
    max_examples=30,
    deadline=None,
    # One app and database for every example; each example pays a bill of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=STEPS)
async def test_any_mix_of_payments_and_resets_leaves_at_most_two_working_tokens(
    api: Api, steps: list[Step]
) -> None:
    api.clock.set(START)
    artifact = await api.artifact()
    issued = [(await api.pay(artifact)).json()["token"]]
    keys: list[str] = []

    for action, number in steps:
        if action == "wait":
            api.clock.advance(seconds=number)
        elif action == "reset":
            response = await api.reset(artifact)
            issued.append(response.json()["token"])
        elif action == "replay a key" and keys:
            response = await api.pay(artifact, **{"Idempotency-Key": keys[number % len(keys)]})
            assert response.headers["idempotent-replayed"] == "true"
        elif action != "replay a key":
            key = {} if action == "pay" else {"Idempotency-Key": str(uuid.uuid4())}
            keys += key.values()
            response = await api.pay(artifact, **key)
            assert response.json()["alreadyPaid"] is True
            issued.append(response.json()["token"])

        now_working = await working(api, issued)
        assert len(now_working) <= 2, Counter(action for action, _ in steps)
        assert issued[-1] in now_working
