"""The validators' cache, with no I/O: lifetimes, the feed's deactivations, bounded staleness.

Both validators (:mod:`paycheck_core._validator`) keep their answers here. An entry is a tuple
read on every request, so its deadlines are worked out when it is stored:

* ``fresh_until``: served without a question before this instant. For an allowed answer of a
  validator that follows the feed, ``max_staleness`` after it was asked for, or its max-age if
  that is shorter; otherwise (and for denials) when it expires;
* ``trusted_until``: an allowed answer past ``fresh_until`` is still served before this instant
  while the feed is healthy and the answer was asked for after the feed began to cover it;
* ``refuse_at``: from this instant on the feed said the token is deactivated, and the answer
  becomes a 401 denial without a call to the payment server.

Digests the feed deactivated are remembered (a bounded number, for an hour past their
``stopsAt``), so that an answer asked for before the event and received after it is refused
too.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ._exceptions import PaymentServiceUnavailable
from ._feed_core import _DEACTIVATED, FeedStats, _FeedCore
from ._models import AccessDecision
from .tokens import TOKEN_PREFIX, is_well_formed

__all__ = ["MAX_CACHE_TTL", "ValidatorStats"]

MAX_CACHE_TTL = 3600
"""The longest any answer is kept, in seconds: one hour, as the seed contract requires."""
DEFAULT_TTL = 300
"""Seconds an allowed answer is kept by a validator that does not follow the feed."""
DEFAULT_MAX_STALENESS = 5.0
"""Seconds an answer is trusted without a healthy feed vouching for it."""
REMEMBERED_DEACTIVATIONS = 65_536

_Key = tuple[bytes, str]
# (fresh_until, decision, trusted_until, coverage, expires_at, refuse_at); see the docstring.
# coverage: the feed's coverage when the answer was asked for (trusted only if still current).
_Entry = tuple[float, AccessDecision, float, int, float, float]
# When a question left: (the clock, the cache's generation, the feed's coverage).
_Asked = tuple[float, int, int]
_sha256 = hashlib.sha256
_INF = math.inf


@dataclass(frozen=True, slots=True)
class ValidatorStats:
    """Counters of a validator since it was made.

    Attributes:
        hits: validations answered from the cache.
        misses: validations that had to wait for the payment server (their own call or one
            already in flight).
        upstream_calls: calls made to the payment server.
        size: entries in the cache now (expired ones included until they are replaced).
        feed: the token-event feed's state; ``None`` for a validator made with
            ``follow=False``.
        stale_hits: answers served past ``max_staleness`` without a healthy feed, because the
            payment server could not be reached to check them again.
    """

    hits: int
    misses: int
    upstream_calls: int
    size: int
    feed: FeedStats | None = None
    stale_hits: int = 0


class _Cache:
    """The cache, counters and feed state shared by both validators; no I/O.

    The sync validator calls every method with its lock held; the feed's thread does too.
    """

    def __init__(
        self,
        service: str,
        *,
        ttl: float | None,
        negative_ttl: float,
        maxsize: int,
        verify_format: bool,
        follow: bool,
        max_staleness: float,
        clock: Callable[[], float],
    ) -> None:
        if not isinstance(service, str) or not service:
            raise ValueError("service must be the non-empty name of the service to check for")
        for name, value in (
            ("ttl", ttl),
            ("negative_ttl", negative_ttl),
            ("max_staleness", max_staleness),
        ):
            if value is not None and not 0 <= value <= MAX_CACHE_TTL:
                raise ValueError(
                    f"{name} must be between 0 and {MAX_CACHE_TTL} seconds (the seed contract "
                    f"keeps an answer at most one hour), not {value!r}"
                )
        if maxsize < 1:
            raise ValueError(f"maxsize must be a positive number of entries, not {maxsize!r}")
        if not isinstance(follow, bool):
            raise ValueError(f"follow must be True or False, not {follow!r}")
        self.service = service
        self.negative_ttl = negative_ttl
        self.maxsize = maxsize
        self.verify_format = verify_format
        self.max_staleness = max_staleness
        self._ttls = (DEFAULT_TTL if ttl is None else ttl, MAX_CACHE_TTL if ttl is None else ttl)
        self._following = follow
        self.ttl = self._ttls[follow]
        self._clock = clock
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._methods: dict[bytes, list[str]] = {}  # digest -> its cached methods
        self._deactivated: OrderedDict[bytes, tuple[float, str]] = OrderedDict()
        self._generation = 0  # moves when the cache is dropped: answers in flight are not kept
        self._healthy_until = -_INF
        # Coverage numbers a stream's span from its first message; _covered is the current one
        # while the feed delivers every deactivation from then on, else -1. Numbers, not
        # instants: a clock's tick cannot order a question and the stream's first message.
        self._coverage = 0
        self._covered = -1
        self._hits = 0
        self._misses = 0
        self._upstream_calls = 0
        self._stale_hits = 0
        self._feed_core = _FeedCore(service, self, clock) if follow else None

    @property
    def stats(self) -> ValidatorStats:
        """A snapshot of the validator's counters and of its feed."""
        core = self._feed_core
        return ValidatorStats(
            self._hits,
            self._misses,
            self._upstream_calls,
            len(self._entries),
            None if core is None else core.stats(),
            self._stale_hits,
        )

    @staticmethod
    def _key(token: str, method: str) -> _Key:
        try:
            data = token.encode()
        except UnicodeEncodeError:  # lone surrogates, which only a JSON string can carry
            data = token.encode("utf-8", "surrogatepass")
        return (_sha256(data).digest(), method)

    def _hit(self, key: _Key) -> AccessDecision | None:
        """The decision to serve for ``key`` with no question asked, or ``None``."""
        entry = self._entries.get(key)
        if entry is not None:
            now = self._clock()
            if now < entry[0] or (
                now < entry[2] and now < self._healthy_until and entry[3] == self._covered
            ):
                self._hits += 1
                return entry[1]
        return None

    def cached(self, token: str, method: str) -> AccessDecision | None:
        """The cached decision for ``token`` and ``method`` that needs no check, or ``None``.

        Never does I/O and never waits: adapters call it first and fall back to ``validate``
        on ``None``, so that a cache hit costs no coroutine or thread switch. A ``None`` says
        nothing about the token; only :meth:`validate` decides.
        """
        # The hot path of every adapter: _key and _hit inlined, one call instead of three.
        if token.__class__ is not str:
            return None
        try:
            data = token.encode()
        except UnicodeEncodeError:
            data = token.encode("utf-8", "surrogatepass")
        entry = self._entries.get((_sha256(data).digest(), method))
        if entry is not None:
            now = self._clock()
            if now < entry[0] or (
                now < entry[2] and now < self._healthy_until and entry[3] == self._covered
            ):
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
        return self._denial(method, reason)

    def _denial(self, method: str, reason: str) -> AccessDecision:
        return AccessDecision(
            allowed=False, status=401, service=self.service, method=method, reason=reason
        )

    def _local(self, key: _Key) -> AccessDecision | None:
        """What the cache alone can answer for ``key`` (a hit or a refusal), else ``None``.

        An allowed answer past its trust (stale) is not answered here: the caller checks it
        again, and falls back on :meth:`_stale` if the payment server cannot be reached.
        """
        hit = self._hit(key)
        if hit is not None:
            return hit
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[5] <= now < entry[4]:
            self._hits += 1
            return self._refuse(key, entry)
        remembered = self._deactivated.get(key[0])
        if remembered is not None and remembered[0] <= now:
            self._hits += 1
            return self._denial(key[1], remembered[1])
        return None

    def _refuse(self, key: _Key, entry: _Entry) -> AccessDecision:
        """Turn an allowed entry the feed deactivated into a denial, kept as long."""
        remembered = self._deactivated.get(key[0])
        reason = remembered[1] if remembered is not None else _DEACTIVATED
        denial = self._denial(key[1], reason)
        expires = entry[4]
        self._entries[key] = (expires, denial, expires, entry[3], expires, _INF)
        return denial

    def _stale(self, key: _Key) -> AccessDecision | None:
        """The answer to serve when the payment server cannot check ``key`` again, if any.

        An unexpired answer is served even past ``max_staleness``: an outage of the payment
        server must not become an outage of every service. A deactivation still applies.
        """
        entry = self._entries.get(key)
        now = self._clock()
        if entry is None or now >= entry[4]:
            return None
        if entry[5] <= now:
            return self._refuse(key, entry)
        self._stale_hits += 1
        return entry[1]

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

    def _lifetime(self, decision: AccessDecision) -> float:
        if decision.allowed:
            lifetime, bound = self.ttl, decision.max_age
            # Following the feed, an allowed answer may outlive the server's max-age (cut
            # short for validators that do not follow), never the paid period.
            if self._following and decision.valid_for is not None and bound != 0:
                bound = decision.valid_for
        else:
            lifetime, bound = self.negative_ttl, decision.max_age
        if bound is not None:
            lifetime = min(lifetime, bound)
        return min(lifetime, MAX_CACHE_TTL)

    def _asking(self) -> _Asked:
        """The moment a question leaves for the payment server, for :meth:`_settle`."""
        return (self._clock(), self._generation, self._covered)

    def _settle(self, key: _Key, decision: AccessDecision, asked: _Asked) -> AccessDecision:
        """Keep the server's ``decision`` to the question ``asked``; what the caller gets.

        A deactivation the feed delivered while the question was in flight wins over the
        answer; an answer asked for before the cache was dropped is given but not kept.
        """
        now = self._clock()
        refuse_at = _INF
        if decision.allowed:
            remembered = self._deactivated.get(key[0])
            if remembered is not None:
                if remembered[0] <= now:
                    decision = self._denial(key[1], remembered[1])
                else:
                    refuse_at = remembered[0]
        asked_at, generation, coverage = asked
        if generation != self._generation:
            return decision
        lifetime = self._lifetime(decision)
        if lifetime <= 0:
            return decision
        expires = asked_at + lifetime
        trusted = min(expires, refuse_at)
        fresh = trusted
        if decision.allowed and self._following:
            # Without a healthy feed an answer is trusted no longer than it would be without
            # one: at most max_staleness, and never past the server's max-age (which the
            # server cuts at its reset grace).
            unfollowed = self.max_staleness
            if decision.max_age is not None:
                unfollowed = min(unfollowed, decision.max_age)
            fresh = min(trusted, asked_at + unfollowed)
        entries = self._entries
        if entries.pop(key, None) is None:
            while len(entries) >= self.maxsize:
                self._unindex(entries.popitem(last=False)[0])  # the oldest: it expires first
            self._methods.setdefault(key[0], []).append(key[1])
        entries[key] = (fresh, decision, trusted, coverage, expires, refuse_at)
        return decision

    def _unindex(self, key: _Key) -> None:
        methods = self._methods.get(key[0])
        if methods is not None:
            methods.remove(key[1])
            if not methods:
                del self._methods[key[0]]

    def _drop(self, token: str) -> None:
        digest = self._key(token, "")[0]
        for method in self._methods.pop(digest, ()):
            self._entries.pop((digest, method), None)

    def _clear(self) -> None:
        self._entries.clear()
        self._methods.clear()
        self._generation += 1

    # --- what the feed changes (_FeedSink) ------------------------------------------------------

    def _feed_alive(self, until: float) -> None:
        # Healthy only while covering, so that no entry asked for outside a coverage (-1) is
        # ever trusted past its freshness.
        if self._covered >= 0:
            self._healthy_until = until

    def _feed_covers(self) -> None:
        self._coverage += 1
        self._covered = self._coverage

    def _feed_deactivated(self, digest: bytes, refuse_at: float, reason: str) -> None:
        remembered = self._deactivated
        known = remembered.pop(digest, None)
        if known is not None and known[0] <= refuse_at:
            refuse_at, reason = known
        remembered[digest] = (refuse_at, reason)
        # An hour after its stop no answer about a token can be kept anyway.
        horizon = self._clock() - MAX_CACHE_TTL
        while len(remembered) > REMEMBERED_DEACTIVATIONS or (
            remembered and next(iter(remembered.values()))[0] < horizon
        ):
            remembered.popitem(last=False)
        for method in self._methods.get(digest, ()):
            key = (digest, method)
            entry = self._entries[key]
            if entry[1].allowed and refuse_at < entry[5]:
                self._entries[key] = (
                    min(entry[0], refuse_at),
                    entry[1],
                    min(entry[2], refuse_at),
                    entry[3],
                    entry[4],
                    refuse_at,
                )

    def _feed_reset(self) -> None:
        self._clear()

    def _feed_available(self, available: bool) -> None:
        # Entries were kept by the other mode's rules: start again under the new ones.
        self._clear()
        self._following = available
        self.ttl = self._ttls[available]
        self._healthy_until = -_INF
        self._covered = -1
