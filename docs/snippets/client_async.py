"""The asyncio twins: AsyncPaycheckClient and AsyncTokenValidator."""

import asyncio
import os
from datetime import UTC, datetime

from paycheck_core import AsyncPaycheckClient, AsyncTokenValidator

SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")


async def main() -> None:
    today = datetime.now(UTC).date()
    async with AsyncPaycheckClient(SERVER_URL) as client:
        bill = await client.create_bill("Weather", today, today, ["getForecast"])
        token = (await client.pay(bill.payment_artifact)).token

    async with AsyncTokenValidator(SERVER_URL, "Weather") as validator:
        # 100 concurrent checks of one token make one call to the payment server.
        decisions = await asyncio.gather(
            *(validator.validate(token, "getForecast") for _ in range(100))
        )
        assert all(decision.allowed for decision in decisions)
        print(validator.stats)  # ValidatorStats(..., upstream_calls=1, size=1, feed=FeedStats(...))


asyncio.run(main())
