"""test_shop.py: the service's tests, against the real payment server of the session."""

from collections.abc import AsyncIterator

import httpx
import pytest

from paycheck_core import AsyncTokenValidator
from paycheck_server.pytest_plugin import PaycheckServer

from shop import SERVICE, create_app

pytestmark = pytest.mark.anyio  # async tests, with the anyio plugin that comes with Starlette


@pytest.fixture
async def shop(paycheck_server: PaycheckServer) -> AsyncIterator[httpx.AsyncClient]:
    # A new app per test, so that its cache starts empty, and a validator the test closes
    # (httpx's ASGITransport does not run the app's lifespan, which would close its own).
    async with AsyncTokenValidator(paycheck_server.url, SERVICE) as validator:
        transport = httpx.ASGITransport(app=create_app(validator=validator))
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_paid_token_gets_in(
    shop: httpx.AsyncClient, paycheck_server: PaycheckServer
) -> None:
    token = paycheck_server.token(SERVICE, ["getInfo"])

    assert (await shop.get("/getInfo", headers=bearer(token))).status_code == 200


async def test_no_token_gets_401_and_a_method_not_bought_403(
    shop: httpx.AsyncClient, paycheck_server: PaycheckServer
) -> None:
    token = paycheck_server.token(SERVICE, ["getInfo"])

    assert (await shop.get("/getInfo")).status_code == 401
    assert (await shop.post("/placeOrder", headers=bearer(token))).status_code == 403


async def test_a_revoked_token_gets_401(
    shop: httpx.AsyncClient, paycheck_server: PaycheckServer
) -> None:
    token = paycheck_server.token(SERVICE)  # every method the service sells
    paycheck_server.revoke(token)

    assert (await shop.get("/getInfo", headers=bearer(token))).status_code == 401


async def test_after_a_reset_both_tokens_work_during_the_grace_period(
    shop: httpx.AsyncClient, paycheck_server: PaycheckServer
) -> None:
    purchase = paycheck_server.buy(SERVICE, ["getInfo"], days=7)
    new_token = paycheck_server.reset(purchase.payment_artifact)

    assert (await shop.get("/getInfo", headers=bearer(new_token))).status_code == 200
    assert (await shop.get("/getInfo", headers=bearer(purchase.token))).status_code == 200


def test_naming_no_method_buys_every_method_for_sale(paycheck_server: PaycheckServer) -> None:
    purchase = paycheck_server.buy(SERVICE)

    assert purchase.methods == ("getInfo", "placeOrder")  # not the private "reindex"
