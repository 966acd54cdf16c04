"""Cached token validation for services: :class:`TokenValidator` and :class:`AsyncTokenValidator`.

A service checks every request's token; asking the payment server each time would double its
latency, so the validators keep answers for a while:

* an entry is keyed by ``(sha256(token), method)`` for the validator's one service, so no
  plaintext token is kept in memory;
* an allowed answer lives ``min(ttl, the server's max-age, 3600 s)``, a denial
  ``min(negative_ttl, max-age, 3600 s)``; the seed contract forbids keeping an answer longer than
  an hour, because a token can be deactivated;
* by default a validator follows the payment server's token-event feed
  (:mod:`paycheck_core._feed`): a deactivated token is refused from the instant the event
  names, an allowed answer may then live up to an hour (the paid period permitting), and an
  answer older than ``max_staleness`` is trusted only while the feed is healthy
  (:mod:`paycheck_core._cache` has the rules);
* exceptions (the server down, timing out, answering 5xx or garbage) are never cached;
* concurrent misses for one key make **one** upstream call whose result every caller gets
  (single-flight), for threads and for asyncio tasks alike;
* a malformed token is denied before the cache and before the network.

A cache hit costs a SHA-256 of the token and a dictionary lookup.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from ._cache import (
    DEFAULT_MAX_STALENESS,
    MAX_CACHE_TTL,
    ValidatorStats,
    _Asked,
    _Cache,
    _Key,
)
from ._client import AsyncPaycheckClient, PaycheckClient
from ._exceptions import PaymentServiceUnavailable
from ._feed import _FeedTask, _FeedThread
from ._models import AccessDecision

__all__ = ["MAX_CACHE_TTL", "AsyncTokenValidator", "TokenValidator", "ValidatorStats"]

_Self = TypeVar("_Self", bound="TokenValidator")
_AsyncSelf = TypeVar("_AsyncSelf", bound="AsyncTokenValidator")


class TokenValidator(_Cache):
    """A thread-safe, cached checker of access tokens for one service.

    Example::

        validator = TokenValidator("http://payments:8000", "Online marketplace")
        decision = validator.validate(token, "getInfo")
        if not decision.allowed:
            ...  # answer decision.status (401 or 403)

    By default the validator follows the payment server's token-event feed from a daemon
    thread started by the first validation, and stopped by :meth:`close`.

    Args:
        client_or_url: a :class:`~paycheck_core.PaycheckClient`, or the payment server's URL
            (the validator then owns its client and closes it in :meth:`close`).
        service: the service whose methods are checked.
        ttl: seconds an allowed answer is kept (at most 3600); by default 3600 while the
            validator follows the feed, 300 when it does not (``follow=False``, or a server
            without a feed).
        negative_ttl: seconds a denial is kept (at most 3600).
        maxsize: the most entries kept; the oldest go first.
        verify_format: deny tokens that are not ``pct_...`` tokens without asking the server;
            turn off for servers whose tokens look different.
        timeout: seconds to wait for the payment server when a URL is given.
        follow: follow the token-event feed, so that a deactivated token is refused within
            seconds; ``False`` keeps answers for ``min(ttl, max-age)`` and nothing else.
        max_staleness: seconds an allowed answer is served without question while the feed
            is not healthy; past them it is checked again (and served anyway, until it
            expires, if the payment server cannot be reached). Unused with ``follow=False``.
        clock: a monotonic clock in seconds (tests pass a fake one).

    Raises:
        ValueError: an option is out of range.
    """

    def __init__(
        self,
        client_or_url: PaycheckClient | str,
        service: str,
        *,
        ttl: float | None = None,
        negative_ttl: float = 60,
        maxsize: int = 100_000,
        verify_format: bool = True,
        timeout: float = 5.0,
        follow: bool = True,
        max_staleness: float = DEFAULT_MAX_STALENESS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            service,
            ttl=ttl,
            negative_ttl=negative_ttl,
            maxsize=maxsize,
            verify_format=verify_format,
            follow=follow,
            max_staleness=max_staleness,
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
        core = self._feed_core
        self._feed = None if core is None else _FeedThread(core, self.client, self._lock)

    @property
    def stats(self) -> ValidatorStats:
        """A snapshot of the validator's counters and of its feed."""
        with self._lock:
            return super().stats

    def cached(self, token: str, method: str) -> AccessDecision | None:
        """The cached decision for ``token`` and ``method`` that needs no check, or ``None``.

        Never does I/O and never waits for another thread's upstream call. A ``None`` says
        nothing about the token; only :meth:`validate` decides.
        """
        if token.__class__ is not str:  # what an untyped caller may pass: never a hit
            return None
        key = self._key(token, method)
        # Under the lock so that concurrent hits are all counted (`+=` is not atomic).
        with self._lock:
            return self._hit(key)

    def validate(self, token: str, method: str) -> AccessDecision:
        """Decide whether ``token`` gives access to ``method`` of this validator's service.

        Returns:
            The decision; ``allowed=False`` with ``status`` 401 or 403 for a denial.

        Raises:
            PaymentServiceUnavailable: the payment server could not answer, or answered about
                another service or method (nothing is cached),
                and no answer about the token is in the cache.
            BadRequestError: the server refused the request as malformed.
        """
        key = self._key(token, method) if isinstance(token, str) else None
        if key is not None:
            # Under the lock so that concurrent hits are all counted (`+=` is not atomic).
            with self._lock:
                hit = self._hit(key)
            if hit is not None:
                return hit
        rejected = self._rejected(token, method)
        if rejected is not None or key is None:
            assert rejected is not None
            return rejected
        with self._lock:
            local = self._local(key)
            if local is not None:
                return local
            self._misses += 1
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self._upstream_calls += 1
                asked = self._asking()
        if self._feed is not None:
            self._feed.start()
        if not leading:
            return flight.wait()
        try:
            decision = self._ask(key, token, method, asked)
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.result = decision
            return decision
        finally:
            flight.done.set()

    def _ask(self, key: _Key, token: str, method: str, asked: _Asked) -> AccessDecision:
        """The leading thread's call to the payment server, and what comes of it."""
        try:
            decision = self._answering(self.client.check_token(token, self.service, method), method)
        except PaymentServiceUnavailable:
            with self._lock:
                del self._flights[key]
                stale = self._stale(key)
            if stale is None:
                raise
            return stale
        except BaseException:
            with self._lock:
                del self._flights[key]
            raise
        with self._lock:
            # Kept and gone from the flights at once: a miss that comes next finds the entry.
            del self._flights[key]
            return self._settle(key, decision, asked)

    def start_feed(self) -> None:
        """Start following the token-event feed now rather than at the first validation.

        Does nothing with ``follow=False``, after :meth:`close`, or when already following.
        """
        if self._feed is not None:
            self._feed.start()

    def invalidate(self, token: str) -> None:
        """Forget every cached answer about ``token`` (for example after a reset)."""
        with self._lock:
            self._drop(token)

    def close(self) -> None:
        """Stop following the feed, and close the client if the validator made it from a URL."""
        if self._feed is not None:
            self._feed.stop(self.client.timeout)
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

    By default the validator follows the payment server's token-event feed from a task
    started by :meth:`start_feed` (the ASGI middleware calls it at lifespan startup) or by the
    first validation, and stopped by :meth:`aclose`.

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
        ttl: float | None = None,
        negative_ttl: float = 60,
        maxsize: int = 100_000,
        verify_format: bool = True,
        timeout: float = 5.0,
        follow: bool = True,
        max_staleness: float = DEFAULT_MAX_STALENESS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            service,
            ttl=ttl,
            negative_ttl=negative_ttl,
            maxsize=maxsize,
            verify_format=verify_format,
            follow=follow,
            max_staleness=max_staleness,
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
        core = self._feed_core
        self._feed = None if core is None else _FeedTask(core, self.client)

    async def validate(self, token: str, method: str) -> AccessDecision:
        """Decide whether ``token`` gives access; see :meth:`TokenValidator.validate`."""
        key = self._key(token, method) if isinstance(token, str) else None
        if key is not None:
            hit = self._hit(key)
            if hit is not None:
                return hit
        rejected = self._rejected(token, method)
        if rejected is not None or key is None:
            assert rejected is not None
            return rejected
        local = self._local(key)
        if local is not None:
            return local
        self._misses += 1
        if self._feed is not None:
            self._feed.start()
        flight = self._flights.get(key)
        if flight is None:
            self._upstream_calls += 1
            fetch = self._fetch(key, token, method, self._asking())
            flight = asyncio.ensure_future(fetch)
            flight.add_done_callback(_retrieve)
            self._flights[key] = flight
        return await asyncio.shield(flight)

    async def _fetch(self, key: _Key, token: str, method: str, asked: _Asked) -> AccessDecision:
        try:
            decision = self._answering(
                await self.client.check_token(token, self.service, method), method
            )
        except PaymentServiceUnavailable:
            stale = self._stale(key)
            if stale is None:
                raise
            return stale
        else:
            return self._settle(key, decision, asked)
        finally:
            del self._flights[key]

    async def start_feed(self) -> None:
        """Start following the token-event feed now, from a task of the running event loop.

        Does nothing with ``follow=False``, after :meth:`aclose`, or when already following.
        """
        if self._feed is not None:
            self._feed.start()

    def invalidate(self, token: str) -> None:
        """Forget every cached answer about ``token`` (for example after a reset)."""
        self._drop(token)

    async def aclose(self) -> None:
        """Stop following the feed, and close the client if the validator made it from a URL."""
        if self._feed is not None:
            await self._feed.stop()
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
