"""Cached token validation for services: :class:`TokenValidator` and :class:`AsyncTokenValidator`.

A service checks every request's token; asking the payment server each time would double its
latency, so the validators keep answers for a while:

* an entry is keyed by ``(sha256(token), method)`` for the validator's one service, so no
  plaintext token is kept in memory;
* an allowed answer lives ``min(ttl, the server's max-age, 3600 s)``, a denial
  ``min(negative_ttl, max-age, 3600 s)``; the seed contract forbids keeping an answer longer than
  an hour, because a token can be deactivated;
* exceptions (the server down, timing out, answering 5xx or garbage, or answering about another
  service or method than the one asked) are never cached;
* concurrent misses for one key make **one** upstream call whose result every caller gets
  (single-flight), for threads and for asyncio tasks alike;
* a malformed token is denied before the cache and before the network.

A cache hit costs a SHA-256 of the token and a dictionary lookup.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

from ._client import AsyncPaycheckClient, PaycheckClient
from ._exceptions import PaymentServiceUnavailable
from ._models import AccessDecision
from .tokens import TOKEN_PREFIX, is_well_formed

__all__ = ["MAX_CACHE_TTL", "AsyncTokenValidator", "TokenValidator", "ValidatorStats"]

MAX_CACHE_TTL = 3600
"""The longest any answer is kept, in seconds: one hour, as the seed contract requires."""

_Key = tuple[bytes, str]
_sha256 = hashlib.sha256
_Entry = tuple[float, AccessDecision]
_Self = TypeVar("_Self", bound="TokenValidator")
_AsyncSelf = TypeVar("_AsyncSelf", bound="AsyncTokenValidator")


@dataclass(frozen=True, slots=True)
class ValidatorStats:
    """Counters of a validator since it was made.

    Attributes:
        hits: validations answered from the cache.
        misses: validations that had to wait for the payment server (their own call or one
            already in flight).
        upstream_calls: calls made to the payment server.
        size: entries in the cache now (expired ones included until they are replaced).
    """

    hits: int
    misses: int
    upstream_calls: int
    size: int


class _Cache:
    """The cache and counters shared by both validators; no I/O."""

    def __init__(
        self,
        service: str,
        *,
        ttl: float,
        negative_ttl: float,
        maxsize: int,
        verify_format: bool,
        clock: Callable[[], float],
    ) -> None:
        if not isinstance(service, str) or not service:
            raise ValueError("service must be the non-empty name of the service to check for")
        for name, value in (("ttl", ttl), ("negative_ttl", negative_ttl)):
            if not 0 <= value <= MAX_CACHE_TTL:
                raise ValueError(
                    f"{name} must be between 0 and {MAX_CACHE_TTL} seconds (the seed contract "
                    f"keeps an answer at most one hour), not {value!r}"
                )
        if maxsize < 1:
            raise ValueError(f"maxsize must be a positive number of entries, not {maxsize!r}")
        self.service = service
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.maxsize = maxsize
        self.verify_format = verify_format
        self._clock = clock
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._upstream_calls = 0

    @property
    def stats(self) -> ValidatorStats:
        """A snapshot of the validator's counters."""
        return ValidatorStats(self._hits, self._misses, self._upstream_calls, len(self._entries))

    @staticmethod
    def _key(token: str, method: str) -> _Key:
        try:
            data = token.encode()
        except UnicodeEncodeError:  # lone surrogates, which only a JSON string can carry
            data = token.encode("utf-8", "surrogatepass")
        return (_sha256(data).digest(), method)

    def _cached(self, key: _Key) -> AccessDecision | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            self._hits += 1
            return entry[1]
        return None

    def cached(self, token: str, method: str) -> AccessDecision | None:
        """The cached, unexpired decision for ``token`` and ``method``, or ``None``.

        Never does I/O and never waits: adapters call it first and fall back to ``validate``
        on ``None``, so that a cache hit costs no coroutine or thread switch. A ``None`` says
        nothing about the token; only :meth:`validate` decides.
        """
        # The hot path of every adapter: _key and _cached inlined, one call instead of three.
        if token.__class__ is not str:
            return None
        try:
            data = token.encode()
        except UnicodeEncodeError:
            data = token.encode("utf-8", "surrogatepass")
        entry = self._entries.get((_sha256(data).digest(), method))
        if entry is not None and entry[0] > self._clock():
            self._hits += 1
            return entry[1]
        return None

    def _rejected(self, token: object, method: str) -> AccessDecision | None:
        """A denial for a token that needs no server to be refused, else ``None``."""
        if not isinstance(token, str) or not token:
            reason = "No token was given."
        elif self.verify_format and not is_well_formed(token, prefix=TOKEN_PREFIX):
            reason = "The token is malformed: it is not a Paycheck access token (pct_...)."
        else:
            return None
        return AccessDecision(
            allowed=False, status=401, service=self.service, method=method, reason=reason
        )

    def _lifetime(self, decision: AccessDecision) -> float:
        lifetime = self.ttl if decision.allowed else self.negative_ttl
        if decision.max_age is not None:
            lifetime = min(lifetime, decision.max_age)
        return min(lifetime, MAX_CACHE_TTL)

    def _answering(self, decision: AccessDecision, method: str) -> AccessDecision:
        """``decision`` if it answers what was asked; raises otherwise, so nothing is cached.

        The client already refuses a server's answer about another service or method; this
        holds the validator to it whatever client (or subclass) it was given.
        """
        if decision.service != self.service or decision.method != method:
            raise PaymentServiceUnavailable(
                f"the payment server's answer is about {decision.service!r}/{decision.method!r}, "
                f"not the {self.service!r}/{method!r} that was asked"
            )
        return decision

    def _store(self, key: _Key, decision: AccessDecision) -> None:
        """Keep ``decision``; the caller holds the lock (or runs on the event loop)."""
        lifetime = self._lifetime(decision)
        if lifetime <= 0:
            return
        entries = self._entries
        if entries.pop(key, None) is None:
            while len(entries) >= self.maxsize:
                entries.popitem(last=False)  # the oldest entry: it expires first
        entries[key] = (self._clock() + lifetime, decision)

    def _drop(self, token: str) -> None:
        digest = self._key(token, "")[0]
        for key in [key for key in self._entries if key[0] == digest]:
            self._entries.pop(key, None)


class TokenValidator(_Cache):
    """A thread-safe, cached checker of access tokens for one service.

    Example::

        validator = TokenValidator("http://payments:8000", "Online marketplace")
        decision = validator.validate(token, "getInfo")
        if not decision.allowed:
            ...  # answer decision.status (401 or 403)

    Args:
        client_or_url: a :class:`~paycheck_core.PaycheckClient`, or the payment server's URL
            (the validator then owns its client and closes it in :meth:`close`).
        service: the service whose methods are checked.
        ttl: seconds an allowed answer is kept (at most 3600).
        negative_ttl: seconds a denial is kept (at most 3600).
        maxsize: the most entries kept; the oldest go first.
        verify_format: deny tokens that are not ``pct_...`` tokens without asking the server;
            turn off for servers whose tokens look different.
        timeout: seconds to wait for the payment server when a URL is given.
        clock: a monotonic clock in seconds (tests pass a fake one).

    Raises:
        ValueError: an option is out of range.
    """

    def __init__(
        self,
        client_or_url: PaycheckClient | str,
        service: str,
        *,
        ttl: float = 300,
        negative_ttl: float = 60,
        maxsize: int = 100_000,
        verify_format: bool = True,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            service,
            ttl=ttl,
            negative_ttl=negative_ttl,
            maxsize=maxsize,
            verify_format=verify_format,
            clock=clock,
        )
        if isinstance(client_or_url, PaycheckClient):
            self.client, self._owns_client = client_or_url, False
        elif isinstance(client_or_url, str):
            self.client, self._owns_client = PaycheckClient(client_or_url, timeout=timeout), True
        else:
            raise ValueError(
                "client_or_url must be a PaycheckClient or the payment server's URL, "
                f"not {type(client_or_url).__name__}"
            )
        self._lock = threading.Lock()
        self._flights: dict[_Key, _Flight] = {}

    def cached(self, token: str, method: str) -> AccessDecision | None:
        """The cached, unexpired decision for ``token`` and ``method``, or ``None``.

        Never does I/O and never waits for another thread's upstream call. A ``None`` says
        nothing about the token; only :meth:`validate` decides.
        """
        if token.__class__ is not str:  # what an untyped caller may pass: never a hit
            return None
        key = self._key(token, method)
        # Under the lock so that concurrent hits are all counted (`+=` is not atomic).
        with self._lock:
            return self._cached(key)

    def validate(self, token: str, method: str) -> AccessDecision:
        """Decide whether ``token`` gives access to ``method`` of this validator's service.

        Returns:
            The decision; ``allowed=False`` with ``status`` 401 or 403 for a denial.

        Raises:
            PaymentServiceUnavailable: the payment server could not answer, or answered about
                another service or method than the one asked (nothing is cached).
            BadRequestError: the server refused the request as malformed.
        """
        key = self._key(token, method) if isinstance(token, str) else None
        if key is not None:
            # Under the lock so that concurrent hits are all counted (`+=` is not atomic).
            with self._lock:
                hit = self._cached(key)
            if hit is not None:
                return hit
        rejected = self._rejected(token, method)
        if rejected is not None or key is None:
            assert rejected is not None
            return rejected
        with self._lock:
            hit = self._cached(key)
            if hit is not None:
                return hit
            self._misses += 1
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self._upstream_calls += 1
        if not leading:
            return flight.wait()
        try:
            decision = self._answering(self.client.check_token(token, self.service, method), method)
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.result = decision
            return decision
        finally:
            with self._lock:
                if flight.result is not None:
                    self._store(key, flight.result)
                del self._flights[key]
            flight.done.set()

    def invalidate(self, token: str) -> None:
        """Forget every cached answer about ``token`` (for example after a reset)."""
        with self._lock:
            self._drop(token)

    def close(self) -> None:
        """Close the client if the validator made it from a URL."""
        if self._owns_client:
            self.client.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Flight:
    """One upstream call that several threads wait for."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: AccessDecision | None = None
        self.error: BaseException | None = None

    def wait(self) -> AccessDecision:
        self.done.wait()
        if self.error is not None:
            # Each waiter raises its own copy: one exception object raised in several threads
            # would collect all their tracebacks.
            try:
                error = copy.copy(self.error)
            except Exception:  # pragma: no cover - exceptions that cannot be copied
                error = self.error
            raise error from self.error
        assert self.result is not None
        return self.result


class AsyncTokenValidator(_Cache):
    """The asyncio twin of :class:`TokenValidator`: ``await validator.validate(token, method)``.

    Concurrent tasks that miss on one key share one upstream call; a task cancelled while it
    waits does not cancel the call the others wait for. Use one validator per event loop.

    Args:
        client_or_url: an :class:`~paycheck_core.AsyncPaycheckClient`, or the payment server's
            URL (the validator then owns its client and closes it in :meth:`aclose`).
        service: the service whose methods are checked.

    The other options are those of :class:`TokenValidator`.
    """

    def __init__(
        self,
        client_or_url: AsyncPaycheckClient | str,
        service: str,
        *,
        ttl: float = 300,
        negative_ttl: float = 60,
        maxsize: int = 100_000,
        verify_format: bool = True,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            service,
            ttl=ttl,
            negative_ttl=negative_ttl,
            maxsize=maxsize,
            verify_format=verify_format,
            clock=clock,
        )
        if isinstance(client_or_url, AsyncPaycheckClient):
            self.client, self._owns_client = client_or_url, False
        elif isinstance(client_or_url, str):
            self.client = AsyncPaycheckClient(client_or_url, timeout=timeout)
            self._owns_client = True
        else:
            raise ValueError(
                "client_or_url must be an AsyncPaycheckClient or the payment server's URL, "
                f"not {type(client_or_url).__name__}"
            )
        self._flights: dict[_Key, asyncio.Future[AccessDecision]] = {}

    async def validate(self, token: str, method: str) -> AccessDecision:
        """Decide whether ``token`` gives access; see :meth:`TokenValidator.validate`."""
        key = self._key(token, method) if isinstance(token, str) else None
        if key is not None:
            hit = self._cached(key)
            if hit is not None:
                return hit
        rejected = self._rejected(token, method)
        if rejected is not None or key is None:
            assert rejected is not None
            return rejected
        self._misses += 1
        flight = self._flights.get(key)
        if flight is None:
            self._upstream_calls += 1
            flight = asyncio.ensure_future(self._fetch(key, token, method))
            flight.add_done_callback(_retrieve)
            self._flights[key] = flight
        return await asyncio.shield(flight)

    async def _fetch(self, key: _Key, token: str, method: str) -> AccessDecision:
        try:
            decision = self._answering(
                await self.client.check_token(token, self.service, method), method
            )
            self._store(key, decision)
            return decision
        finally:
            del self._flights[key]

    def invalidate(self, token: str) -> None:
        """Forget every cached answer about ``token`` (for example after a reset)."""
        self._drop(token)

    async def aclose(self) -> None:
        """Close the client if the validator made it from a URL."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self: _AsyncSelf) -> _AsyncSelf:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _retrieve(future: asyncio.Future[AccessDecision]) -> None:
    # Mark the outcome as seen even when every waiter was cancelled, so that asyncio does not
    # log "exception was never retrieved" for a failure nobody is left to receive.
    if not future.cancelled():
        future.exception()
