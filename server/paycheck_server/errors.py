"""Errors that the server answers with: each has an HTTP status and a description for people.

The domain functions raise them; the API turns every one into ``{"description": ...}`` with its
status, so a rule and the answer a client gets are written in one place::

    PaycheckServerError
    ├── BadRequestError       400  a field is missing or not acceptable (the description names it)
    ├── PaymentDeclinedError  402  the card was declined; nothing was charged
    ├── NotFoundError         404  unknown service, method or artifact, expired or unpaid bill
    └── UnavailableError      503  the catalog is not loaded yet, the database cannot be reached
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequestError",
    "NotFoundError",
    "PaycheckServerError",
    "PaymentDeclinedError",
    "UnavailableError",
]


class PaycheckServerError(Exception):
    """Base class: an answer the server gives on purpose, with ``status_code`` and a description.

    Args:
        description: one sentence a person can act on; sent to the client as is, so it must
            never contain a secret.
    """

    status_code: ClassVar[int] = 500

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class BadRequestError(PaycheckServerError):
    """400: the request is malformed or a value is not acceptable."""

    status_code = 400


class PaymentDeclinedError(PaycheckServerError):
    """402: the payment provider declined the payment; nothing was charged."""

    status_code = 402


class NotFoundError(PaycheckServerError):
    """404: an unknown service, method or payment artifact, or a bill in the wrong state."""

    status_code = 404


class UnavailableError(PaycheckServerError):
    """503: the server cannot answer now (no catalog yet, database unreachable)."""

    status_code = 503
