"""A payment provider double that keeps the books, for the race and crash tests of ``/pay``.

It behaves as a real provider with idempotency keys: a key charged before answers with the same
charge and takes nothing more. A test can stop calls inside the provider until it releases them
(``hold``), make calls fail before taking the money or after it (the answer is lost), and read
how many charges the provider made (``taken``) to compare with the database's ``charges`` rows.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from paycheck_server import Charge, ChargeDeclined

DECLINED_CARD = "4000000000000002"

Moment = Literal["before", "after"]
"""Before the provider takes the money, or after it took it."""


class ProviderDouble:
    """A provider that charges once per idempotency key, and can be held or made to fail.

    Attributes:
        hold: where every call stops until :meth:`release`: ``"before"`` or ``"after"`` taking
            the money; ``None`` never stops.
        failures: what the next calls do wrong, one entry per call: ``"before"`` fails before
            taking anything (the provider is unreachable), ``"after"`` takes the money and then
            fails (the answer is lost on the way back).
        entered: how many calls have reached the provider.
        keys: the idempotency key of every call, in order.

    The card ``4000000000000002`` is declined, as by the sandbox.
    """

    name = "double"

    def __init__(self) -> None:
        self.hold: Moment | None = None
        self.failures: list[Moment] = []
        self.entered = 0
        self.keys: list[str | None] = []
        self._books: dict[str, Charge] = {}
        self._unkeyed = 0
        self._released = asyncio.Event()
        self._entries = asyncio.Condition()

    @property
    def taken(self) -> int:
        """How many charges the provider made: what card holders see on their statements."""
        return len(self._books) + self._unkeyed

    def release(self) -> None:
        """Let every held call, and every later one, go on."""
        self._released.set()

    async def wait_entered(self, count: int) -> None:
        """Wait until ``count`` calls have reached the provider."""
        async with self._entries:
            await self._entries.wait_for(lambda: self.entered >= count)

    async def charge(
        self,
        *,
        bill_id: str,
        amount_minor: int,
        currency: str,
        card: str | None,
        idempotency_key: str | None = None,
    ) -> Charge:
        """Take ``amount_minor`` once per ``idempotency_key`` (every call, without a key)."""
        async with self._entries:
            self.entered += 1
            self.keys.append(idempotency_key)
            self._entries.notify_all()
        failure = self.failures.pop(0) if self.failures else None
        if self.hold == "before":
            await self._released.wait()
        if failure == "before":
            raise ConnectionError("the provider cannot be reached")
        if card == DECLINED_CARD:
            raise ChargeDeclined("Your card was declined")
        charge = self._take(bill_id, idempotency_key)
        if self.hold == "after":
            await self._released.wait()
        if failure == "after":
            raise ConnectionError("the connection was reset before the provider answered")
        return charge

    def _take(self, bill_id: str, idempotency_key: str | None) -> Charge:
        if idempotency_key is None:
            self._unkeyed += 1
            return Charge(self.name, f"double_{bill_id}_{self._unkeyed}")
        if idempotency_key not in self._books:
            self._books[idempotency_key] = Charge(self.name, f"double_{len(self._books) + 1}")
        return self._books[idempotency_key]
