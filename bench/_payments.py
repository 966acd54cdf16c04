"""A payment server for the in-process benchmarks, behind ``httpx.MockTransport``.

It answers ``POST /token/check`` as the seed contract does (200, ``allowed: true``, with
``Cache-Control: max-age=3600``), optionally after a delay, and counts the checks it answers,
so that a benchmark can prove its cache was hit (no new checks) or shared (exactly one).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx

from paycheck_core import AsyncPaycheckClient, AsyncTokenValidator, PaycheckClient, TokenValidator

__all__ = ["PAID_UNTIL", "SERVICE", "URL", "MockPayments"]

SERVICE = "Online marketplace"
URL = "http://payments.bench"
PAID_UNTIL = "2026-12-31"


class MockPayments:
    """``POST /token/check`` granting every token, counted.

    Args:
        delay: seconds each answer takes (``asyncio.sleep`` or ``time.sleep``).
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        if delay < 0:
            raise ValueError(f"delay must be 0 or more seconds, not {delay!r}")
        self.delay = delay
        self._calls = 0
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        """The checks answered so far."""
        return self._calls

    def _answer(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self._calls += 1
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "allowed": True,
                "serviceName": body["serviceName"],
                "methodName": body["methodName"],
                "paidUntil": PAID_UNTIL,
            },
            headers={"Cache-Control": "max-age=3600"},
        )

    def _sync(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            time.sleep(self.delay)
        return self._answer(request)

    async def _async(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._answer(request)

    def validator(self, *, maxsize: int = 100_000) -> TokenValidator:
        """A :class:`TokenValidator` for :data:`SERVICE` asking this server."""
        client = PaycheckClient(URL, transport=httpx.MockTransport(self._sync))
        # The benchmarks measure the cache; this mock server has no token-event feed.
        return TokenValidator(client, SERVICE, ttl=3600, maxsize=maxsize, follow=False)

    def async_validator(self, *, maxsize: int = 100_000) -> AsyncTokenValidator:
        """An :class:`AsyncTokenValidator` for :data:`SERVICE` asking this server."""
        client = AsyncPaycheckClient(URL, transport=httpx.MockTransport(self._async))
        return AsyncTokenValidator(client, SERVICE, ttl=3600, maxsize=maxsize, follow=False)
