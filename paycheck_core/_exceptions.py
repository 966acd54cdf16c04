"""Exceptions raised by the Paycheck SDK.

One tree, rooted at :class:`PaycheckError`::

    PaycheckError
    ├── APIError                   the server answered with a 4xx error: status_code, description
    │   ├── BadRequestError        400: the request is malformed (the description names the field)
    │   ├── PaymentDeclinedError   402: the payment was declined; nothing was charged
    │   └── NotFoundError          404: unknown service, method or payment artifact (or expired)
    └── PaymentServiceUnavailable  the server could not answer: connection error, timeout, 5xx,
                                   or a body that is not the contract's

A denied token check is not an exception: :meth:`~paycheck_core.PaycheckClient.check_token`
returns an :class:`~paycheck_core.AccessDecision` with ``allowed=False``.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "BadRequestError",
    "NotFoundError",
    "PaycheckError",
    "PaymentDeclinedError",
    "PaymentServiceUnavailable",
]


class PaycheckError(Exception):
    """Base class of every exception the SDK raises."""


class APIError(PaycheckError):
    """The payment server refused the request with a 4xx answer.

    Attributes:
        status_code: the HTTP status of the answer.
        description: the server's ``description`` of what is wrong.
    """

    def __init__(self, description: str, *, status_code: int) -> None:
        super().__init__(description)
        self.description = description
        self.status_code = status_code

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.description, self.status_code))

    def __str__(self) -> str:
        return f"{self.status_code}: {self.description}"


class BadRequestError(APIError):
    """400: the request is malformed; ``description`` says which field and why."""


class PaymentDeclinedError(APIError):
    """402: the payment was declined (for example insufficient funds); nothing was charged."""


class NotFoundError(APIError):
    """404: an unknown service or method, or a payment artifact that is unknown or expired."""


class PaymentServiceUnavailable(PaycheckError):  # noqa: N818 - the name the issue and docs use
    """The payment server could not be reached or did not answer as the contract says.

    Raised for connection errors, timeouts, 5xx answers, redirects and other non-200 answers
    below 400, and bodies that are not the contract's.
    Never cached by the validators: the next call tries again.

    Attributes:
        status_code: the HTTP status when the server answered (a 5xx, a redirect, or a 200
            whose body was not understood), ``None`` when it did not answer at all.
        idempotency_key: the ``Idempotency-Key`` the failed ``create_bill`` or ``pay`` sent
            (``None`` for other calls). The request may have been carried out with no answer
            coming back: retrying with this key gets the first answer, never a second bill or
            charge. It is a secret (it gives the answer's artifact or token back), so it is
            never part of the message.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.idempotency_key = idempotency_key

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_unavailable, (str(self), self.status_code, self.idempotency_key))


def _rebuild(cls: type[APIError], description: str, status_code: int) -> APIError:
    return cls(description, status_code=status_code)


def _rebuild_unavailable(
    message: str, status_code: int | None, idempotency_key: str | None = None
) -> PaymentServiceUnavailable:
    return PaymentServiceUnavailable(
        message, status_code=status_code, idempotency_key=idempotency_key
    )
