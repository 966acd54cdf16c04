"""The answers an adapter gives instead of the app's: RFC 6750 refusals and the 503 of an outage.

Built as bytes once per service so that refusing a request costs as little as granting it.
No web framework and no I/O (but :meth:`Denials.for_error` logs).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from http import HTTPStatus

from paycheck_core import (
    AccessDecision,
    BadRequestError,
    PaycheckError,
    PaymentServiceUnavailable,
)

from ._credentials import Problem
from ._names import MAX_METHOD_NAME_LENGTH

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "Denial",
    "Denials",
    "check_retry_after",
    "logger",
]

logger = logging.getLogger("paycheck_integrations")
"""Where the adapters report a payment server that could not answer (never with the token)."""

DEFAULT_RETRY_AFTER = 5
"""Seconds a 503 answer asks the client to wait before it tries again."""

# RFC 6750 section 3: error_description may hold only %x20-21 / %x23-5B / %x5D-7E.
_NOT_NQSCHAR = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_WEBSOCKET_REASON_BYTES = 123  # a close frame's reason must fit in 123 bytes (RFC 6455 5.5)
_MANY = 1024  # distinct reasons kept per service; they are few, this only bounds odd servers


@dataclass(frozen=True, slots=True)
class Denial:
    """A ready-made deny response.

    Attributes:
        status: the HTTP status (400, 401, 403 or 503; the FastAPI dependency answers a
            preflight with a 204 made the same way).
        description: the sentence of the JSON body ``{"description": ...}``.
        headers: the headers to send, without ``Content-Length`` (frameworks add it).
        body: the JSON body as bytes.
        raw_headers: ``headers`` as ASGI wants them, ``Content-Length`` included.
        wsgi_status: the WSGI status line, for example ``"401 Unauthorized"``.
        wsgi_headers: ``headers`` for ``start_response``, ``Content-Length`` included.
        close_reason: ``description`` cut to fit a websocket close frame.
    """

    status: int
    description: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw_headers: tuple[tuple[bytes, bytes], ...]
    wsgi_status: str
    wsgi_headers: tuple[tuple[str, str], ...]
    close_reason: str

    @classmethod
    def build(
        cls,
        status: int,
        description: str,
        *,
        challenge: str | None = None,
        retry_after: int | None = None,
    ) -> Denial:
        """Make the response for ``status`` with ``description`` as its JSON body.

        Args:
            challenge: the ``WWW-Authenticate`` value, if any.
            retry_after: the ``Retry-After`` seconds, if any.
        """
        body = json.dumps(
            {"description": description}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        headers = [("content-type", "application/json"), ("cache-control", "no-store")]
        if challenge is not None:
            headers.append(("www-authenticate", challenge))
        if retry_after is not None:
            headers.append(("retry-after", str(retry_after)))
        full = [*headers, ("content-length", str(len(body)))]
        reason = description.encode()[:_WEBSOCKET_REASON_BYTES].decode(errors="ignore")
        return cls(
            status=status,
            description=description,
            headers=tuple(headers),
            body=body,
            raw_headers=tuple((name.encode(), value.encode("latin-1")) for name, value in full),
            wsgi_status=f"{status} {HTTPStatus(status).phrase}",
            wsgi_headers=tuple(full),
            close_reason=reason,
        )


def check_retry_after(retry_after: object) -> int:
    """``retry_after`` if it is a whole number of seconds, 1 or more.

    Raises:
        ValueError: it is not.
    """
    if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 1:
        raise ValueError(
            f"retry_after must be a whole number of seconds, 1 or more, not {retry_after!r}"
        )
    return retry_after


def _quoted(text: str) -> str:
    """``text`` as the content of an RFC 6750 quoted-string (no quote, backslash, non-ASCII)."""
    return _NOT_NQSCHAR.sub("?", text.replace('"', "'").replace("\\", "/"))[:200]


class Denials:
    """The deny responses of one service, built once and reused.

    Args:
        service: the service's name, sent as the ``realm`` of ``WWW-Authenticate``.
        retry_after: seconds a 503 asks the client to wait.

    Raises:
        ValueError: ``retry_after`` is not a whole number of seconds, 1 or more.
    """

    __slots__ = ("_bad_requests", "_decisions", "_problems", "realm", "unavailable", "unbuyable")

    def __init__(self, service: str, *, retry_after: int = DEFAULT_RETRY_AFTER) -> None:
        check_retry_after(retry_after)
        self.realm = f'Bearer realm="{_quoted(service)}"'
        self._problems = {problem: self._for_problem(problem) for problem in Problem}
        self.unavailable = Denial.build(
            503,
            "The payment service cannot check access tokens right now; "
            f"try again in {retry_after} seconds.",
            retry_after=retry_after,
        )
        self.unbuyable = self._invalid_request(
            "This request calls a method whose name is longer than the "
            f"{MAX_METHOD_NAME_LENGTH} characters a method name may have: no token can pay "
            "for it."
        )
        """The answer to a request for a method no token can pay for (its name is too long)."""
        self._decisions: dict[tuple[int, str | None, str], Denial] = {}
        self._bad_requests: dict[str, Denial] = {}

    def _invalid_request(self, description: str) -> Denial:
        challenge = (
            f'{self.realm}, error="invalid_request", error_description="{_quoted(description)}"'
        )
        return Denial.build(400, description, challenge=challenge)

    def _for_problem(self, problem: Problem) -> Denial:
        if problem is Problem.MISSING or problem is Problem.NOT_BEARER:
            # RFC 6750 3.1: a request without Bearer credentials (none, or another scheme) gets
            # the challenge without an error code.
            return Denial.build(401, problem.value, challenge=self.realm)
        return self._invalid_request(problem.value)

    def for_problem(self, problem: Problem) -> Denial:
        """The answer to a request whose ``Authorization`` header has ``problem``."""
        return self._problems[problem]

    def for_decision(self, decision: AccessDecision) -> Denial:
        """The answer to a denied token: 403 ``insufficient_scope`` or 401 ``invalid_token``."""
        key = (decision.status, decision.reason, decision.method)
        denial = self._decisions.get(key)
        if denial is None:
            denial = self._for_decision(decision)
            if len(self._decisions) >= _MANY:
                self._decisions.clear()
            self._decisions[key] = denial
        return denial

    def _for_decision(self, decision: AccessDecision) -> Denial:
        if decision.status == 403:
            status, error = 403, "insufficient_scope"
            description = decision.reason or (
                f"The access token does not cover the method {decision.method!r} of this service."
            )
        else:
            status, error = 401, "invalid_token"
            description = decision.reason or "The access token is invalid, expired or revoked."
        challenge = f'{self.realm}, error="{error}", error_description="{_quoted(description)}"'
        return Denial.build(status, description, challenge=challenge)

    def for_error(self, error: PaycheckError, method: str) -> Denial:
        """The answer when the validator raised ``error`` instead of deciding.

        A 400 of the payment server (:class:`~paycheck_core.BadRequestError`) says the
        request was malformed, which the caller chose: it is refused with 400
        ``invalid_request`` and the server's description, and logged at INFO. Anything else
        means the payment server could not decide: 503, logged as a WARNING (unreachable,
        timing out, 5xx) or an ERROR. The validator's errors never hold the token, so logging
        them leaks nothing.
        """
        if isinstance(error, BadRequestError):
            logger.info(
                "The payment server refused the check of %r as malformed: %s", method, error
            )
            denial = self._bad_requests.get(error.description)
            if denial is None:
                denial = self._invalid_request(error.description)
                if len(self._bad_requests) >= _MANY:
                    self._bad_requests.clear()
                self._bad_requests[error.description] = denial
            return denial
        if isinstance(error, PaymentServiceUnavailable):
            logger.warning("Paycheck could not check a token for %r: %s", method, error)
        else:
            logger.error(
                "Paycheck could not check a token for %r: %s: %s",
                method,
                type(error).__name__,
                error,
            )
        return self.unavailable
