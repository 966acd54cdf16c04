"""The payment server's clients: :class:`PaycheckClient` and :class:`AsyncPaycheckClient`.

Twins in the httpx manner: :class:`BaseClient` holds the configuration and turns transport
failures into :class:`~paycheck_core.PaymentServiceUnavailable`; the request building and
response parsing live in :mod:`paycheck_core._wire` with no I/O. The two classes below only
send, with the same methods in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, TypeVar

import httpx

from . import _wire
from ._exceptions import PaymentServiceUnavailable
from ._models import AccessDecision, Bill, Payment, PaymentInfo, Service

__all__ = ["AsyncPaycheckClient", "PaycheckClient"]

T = TypeVar("T")
_Self = TypeVar("_Self", bound="PaycheckClient")
_AsyncSelf = TypeVar("_AsyncSelf", bound="AsyncPaycheckClient")

DEFAULT_TIMEOUT = 5.0
USER_AGENT = "paycheck-suite/0.1 (+python-httpx)"


class BaseClient:
    """Configuration shared by the sync and async clients.

    Args:
        base_url: where the payment server listens, for example ``"http://127.0.0.1:8000"``.
        timeout: seconds to wait for the server (connect, read and write each).
        headers: extra headers sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"base_url must be an http:// or https:// URL of the payment server, "
                f"not {base_url!r}"
            )
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        self._headers.update(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "timeout": self.timeout,
            "headers": self._headers,
            "follow_redirects": False,
        }

    def _request(self, call: _wire.Call[Any]) -> dict[str, Any]:
        return {"method": call.method, "url": call.path, "json": call.json, "headers": call.headers}

    def _unavailable(self, call: _wire.Call[Any], exc: Exception) -> PaymentServiceUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            why = f"timed out after {self.timeout:g} s"
        elif isinstance(exc, httpx.ConnectError):
            why = "could not connect"
        else:
            why = f"the connection failed ({type(exc).__name__})"
        return PaymentServiceUnavailable(
            f"payment server at {self.base_url}: {call.method} {call.path} {why}",
            idempotency_key=call.idempotency_key,
        )

    def _parse(self, call: _wire.Call[T], response: httpx.Response) -> T:
        try:
            return call.parse(response)
        except PaymentServiceUnavailable as exc:
            # A 5xx of /bill or /pay may come after the work was done: name the key to retry.
            exc.idempotency_key = call.idempotency_key
            raise


class PaycheckClient(BaseClient):
    """A blocking client of the payment server.

    Example::

        with PaycheckClient("http://127.0.0.1:8000") as client:
            bill = client.create_bill("Online marketplace", date(2026, 12, 1), date(2026, 12, 31))
            token = client.pay(bill.payment_artifact).token

    Args:
        base_url: where the payment server listens.
        timeout: seconds to wait for the server (connect, read and write each).
        transport: an httpx transport, for example ``httpx.MockTransport`` in tests.
        headers: extra headers sent with every request.

    Every method raises :class:`~paycheck_core.APIError` subclasses for 4xx answers and
    :class:`~paycheck_core.PaymentServiceUnavailable` when the server cannot answer.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, headers=headers)
        # Kept for the validator's feed, which streams through a client of its own.
        self._transport = transport
        self._http = httpx.Client(transport=transport, **self._client_options())

    def _send(self, call: _wire.Call[T]) -> T:
        try:
            response = self._http.request(**self._request(call))
        except httpx.HTTPError as exc:
            raise self._unavailable(call, exc) from exc
        return self._parse(call, response)

    def list_services(self) -> list[Service]:
        """The catalog: every service with the methods it sells and their prices per day."""
        return self._send(_wire.list_services())

    def create_bill(
        self,
        service: str,
        date_from: date,
        date_to: date,
        methods: Sequence[str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Bill:
        """Make a bill for ``service`` from ``date_from`` to ``date_to`` (both inclusive).

        Args:
            service: the service's name, as in the catalog.
            date_from: the first paid day (UTC); not in the past.
            date_to: the last paid day (UTC); not before ``date_from``.
            methods: the methods to buy; all of the service's methods when omitted.
            idempotency_key: retrying with the same key returns the same bill instead of a
                second one. By default a new random UUID; a key of your own must be a secret
                of at least 128 bits (see :func:`paycheck_core.tokens.idempotency_key_problem`).

        Raises:
            BadRequestError: a date or method list is not acceptable.
            NotFoundError: the service or a method is unknown.
            PaymentServiceUnavailable: the server could not answer; retry with its
                ``idempotency_key`` to get the same bill if it was made.
            TypeError: a date is not a ``datetime.date`` (a ``datetime`` is refused too), or
                ``methods`` is a single string; nothing is sent.
            ValueError: ``idempotency_key`` is too weak to be a secret; nothing is sent.
        """
        return self._send(_wire.create_bill(service, date_from, date_to, methods, idempotency_key))

    def pay(
        self,
        payment_artifact: str,
        *,
        card: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Pay the bill of ``payment_artifact`` and get an access token.

        Paying an already paid bill charges nothing and returns a fresh token.

        Args:
            payment_artifact: the artifact of the bill.
            card: what to pay with (the sandbox declines its test cards).
            idempotency_key: as for :meth:`create_bill`: a new random UUID by default.

        Raises:
            NotFoundError: the artifact is unknown, or its unpaid bill has expired.
            PaymentDeclinedError: the card was declined.
            PaymentServiceUnavailable: the server could not answer; the payment may have
                gone through. Retry with its ``idempotency_key``: the bill is never charged
                twice, and the answer is the first one.
            ValueError: ``idempotency_key`` is too weak to be a secret; nothing is sent.
        """
        return self._send(_wire.pay(payment_artifact, card, idempotency_key))

    def payment_info(self, payment_artifact: str) -> PaymentInfo:
        """What the paid bill of ``payment_artifact`` gives access to, and until when.

        Raises:
            NotFoundError: the artifact is unknown, or its bill is not paid.
        """
        return self._send(_wire.payment_info(payment_artifact))

    def reset_token(self, payment_artifact: str) -> str:
        """Issue a new token for the paid bill; the previous one stops after a grace period.

        Raises:
            NotFoundError: the artifact is unknown, or its bill is not paid.
        """
        return self._send(_wire.reset_token(payment_artifact))

    def check_token(self, token: str, service: str, method: str) -> AccessDecision:
        """Ask whether ``token`` gives access to ``method`` of ``service``.

        A denial (401 or 403) is a result with ``allowed=False``, not an exception.

        Raises:
            BadRequestError: the request is malformed.
            PaymentServiceUnavailable: the server could not answer, or answered about another
                service or method than the one asked (never a grant).
        """
        return self._send(_wire.check_token(token, service, method))

    def close(self) -> None:
        """Close the connections of the client."""
        self._http.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncPaycheckClient(BaseClient):
    """The asyncio twin of :class:`PaycheckClient`: the same methods, awaited.

    Example::

        async with AsyncPaycheckClient("http://127.0.0.1:8000") as client:
            decision = await client.check_token(token, "Online marketplace", "getInfo")
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, headers=headers)
        # Kept for the validator's feed, which streams through a client of its own.
        self._transport = transport
        self._http = httpx.AsyncClient(transport=transport, **self._client_options())

    async def _send(self, call: _wire.Call[T]) -> T:
        try:
            response = await self._http.request(**self._request(call))
        except httpx.HTTPError as exc:
            raise self._unavailable(call, exc) from exc
        return self._parse(call, response)

    async def list_services(self) -> list[Service]:
        """The catalog: every service with the methods it sells and their prices per day."""
        return await self._send(_wire.list_services())

    async def create_bill(
        self,
        service: str,
        date_from: date,
        date_to: date,
        methods: Sequence[str] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Bill:
        """Make a bill; see :meth:`PaycheckClient.create_bill`."""
        return await self._send(
            _wire.create_bill(service, date_from, date_to, methods, idempotency_key)
        )

    async def pay(
        self,
        payment_artifact: str,
        *,
        card: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Pay a bill; see :meth:`PaycheckClient.pay`."""
        return await self._send(_wire.pay(payment_artifact, card, idempotency_key))

    async def payment_info(self, payment_artifact: str) -> PaymentInfo:
        """Read a payment; see :meth:`PaycheckClient.payment_info`."""
        return await self._send(_wire.payment_info(payment_artifact))

    async def reset_token(self, payment_artifact: str) -> str:
        """Issue a new token; see :meth:`PaycheckClient.reset_token`."""
        return await self._send(_wire.reset_token(payment_artifact))

    async def check_token(self, token: str, service: str, method: str) -> AccessDecision:
        """Check a token; see :meth:`PaycheckClient.check_token`."""
        return await self._send(_wire.check_token(token, service, method))

    async def aclose(self) -> None:
        """Close the connections of the client."""
        await self._http.aclose()

    async def __aenter__(self: _AsyncSelf) -> _AsyncSelf:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
