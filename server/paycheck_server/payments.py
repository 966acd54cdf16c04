"""How a bill is charged: the :class:`PaymentProvider` protocol and the sandbox provider.

The server calls the provider once per bill, while it holds the bill's row lock, so that a bill
is charged at most once even when many ``/pay`` requests race; a real provider should still be
called with the bill id as its own idempotency key.

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
    """Takes the money for a bill."""

    async def charge(
        self, *, bill_id: str, amount_minor: int, currency: str, card: str | None
    ) -> Charge:
        """Charge ``amount_minor`` (cents) of ``currency`` for ``bill_id``.

        Raises:
            ChargeDeclined: the payment was refused; nothing was charged.
        """
        ...


_DECLINES = {
    "4000000000000002": "Your card was declined",
    "4000000000009995": "Your card has insufficient funds",
}


class SandboxProvider:
    """A provider that charges nothing for real: approves all but the declining test cards.

    Example::

        charge = await SandboxProvider().charge(
            bill_id="bill_1", amount_minor=1200, currency="USD", card=None
        )
    """

    name = "sandbox"

    async def charge(
        self, *, bill_id: str, amount_minor: int, currency: str, card: str | None
    ) -> Charge:
        """Approve, or raise :class:`ChargeDeclined` for a declining test card."""
        if card is not None:
            reason = _DECLINES.get(card.replace(" ", "").replace("-", ""))
            if reason is not None:
                raise ChargeDeclined(reason)
        return Charge(self.name, f"sandbox_{secrets.token_hex(12)}")
