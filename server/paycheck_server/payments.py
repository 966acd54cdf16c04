"""How a bill is charged: the :class:`PaymentProvider` protocol and the sandbox provider.

The server writes a charge attempt down before it calls the provider, and calls it while it
holds the bill's lock, with an ``idempotency_key`` made of the bill id and the attempt's
number. A request cut off after the provider charged (a crash, a lost answer) leaves the
attempt pending; the retry calls the provider again with the same key and must get the same
charge back, not a second one. That is the provider's half of the bargain: **one charge per
idempotency key**, as Stripe, Adyen and most payment APIs promise. A declined attempt charged
nothing; the next attempt has a new number, hence a new key.

:class:`SandboxProvider` approves every payment except for Stripe's test cards:

==================  ===========================
card                outcome
==================  ===========================
4000000000000002    402 "Your card was declined"
4000000000009995    402 "Insufficient funds"
anything or absent  approved
==================  ===========================
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Charge", "ChargeDeclined", "PaymentProvider", "SandboxProvider"]


@dataclass(frozen=True, slots=True)
class Charge:
    """An approved charge: the provider's name and its reference of the payment."""

    provider: str
    reference: str


class ChargeDeclined(Exception):  # noqa: N818 - a result of the provider, named as users say it
    """The provider declined the payment; ``reason`` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentProvider(Protocol):
    """Takes the money for a bill, once per idempotency key."""

    async def charge(
        self,
        *,
        bill_id: str,
        amount_minor: int,
        currency: str,
        card: str | None,
        idempotency_key: str,
    ) -> Charge:
        """Charge ``amount_minor`` (cents) of ``currency`` for ``bill_id``.

        Args:
            bill_id: the bill paid.
            amount_minor: the amount, in minor units.
            currency: the ISO 4217 currency.
            card: what the client paid with, if it said.
            idempotency_key: the same for every call about one charge attempt of the bill.
                A key that was charged before must answer that same charge and take nothing
                more, whatever the other arguments say.

        Raises:
            ChargeDeclined: the payment was refused; nothing was charged.
            Exception: anything else means the outcome is unknown: the server keeps the
                attempt pending and the client's retry calls again with the same key.
        """
        ...


_DECLINES = {
    "4000000000000002": "Your card was declined",
    "4000000000009995": "Your card has insufficient funds",
}


class SandboxProvider:
    """A provider that charges nothing for real: approves all but the declining test cards.

    Like a real provider it charges once per idempotency key: a key approved before answers
    the same :class:`Charge` again. It remembers the last ``remembered`` keys, in memory (a
    restarted sandbox has forgotten them).

    Args:
        remembered: how many approved keys it keeps; the oldest are forgotten first.

    Raises:
        ValueError: ``remembered`` is less than 1.

    Example::

        charge = await SandboxProvider().charge(
            bill_id="bill_1", amount_minor=1200, currency="USD", card=None,
            idempotency_key="bill_1/1",
        )
    """

    name = "sandbox"

    def __init__(self, *, remembered: int = 10_000) -> None:
        if remembered < 1:
            raise ValueError(f"remembered must be at least 1, not {remembered!r}")
        self._remembered = remembered
        self._charges: OrderedDict[str, Charge] = OrderedDict()

    async def charge(
        self,
        *,
        bill_id: str,
        amount_minor: int,
        currency: str,
        card: str | None,
        idempotency_key: str,
    ) -> Charge:
        """Approve, or raise :class:`ChargeDeclined` for a declining test card.

        A key approved before gets its charge again, whatever the card.
        """
        charge = self._charges.get(idempotency_key)
        if charge is not None:
            return charge
        if card is not None:
            reason = _DECLINES.get(card.replace(" ", "").replace("-", ""))
            if reason is not None:
                raise ChargeDeclined(reason)
        charge = Charge(self.name, f"sandbox_{secrets.token_hex(12)}")
        self._charges[idempotency_key] = charge
        if len(self._charges) > self._remembered:
            self._charges.popitem(last=False)
        return charge
