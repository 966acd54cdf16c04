"""What every adapter shares, with no web framework and no I/O.

* :func:`bearer_token` reads ``Authorization: Bearer <token>`` (and
  :func:`asgi_authorization` picks that header out of an ASGI scope);
* :class:`Exemptions` says which requests pass without a token (OPTIONS and excluded paths);
* :class:`MethodNames` turns a request into the ``methodName`` to check, once per
  (HTTP method, path);
* :class:`Denials` holds the ready-made deny responses of one service (RFC 6750), built as bytes
  once so that refusing a request costs as little as granting it;
* :func:`configure` checks an adapter's options and returns its service and validator.

The adapters (:mod:`~paycheck_integrations.asgi`, :mod:`~paycheck_integrations.fastapi`,
:mod:`~paycheck_integrations.wsgi`, :mod:`~paycheck_integrations.flask`) only translate between
their framework and these pieces.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TypeAlias, TypeVar

from paycheck_core import (
    AccessDecision,
    AsyncTokenValidator,
    PaycheckError,
    PaymentServiceUnavailable,
    TokenValidator,
)

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "MAX_AUTHORIZATION_LENGTH",
    "Denial",
    "Denials",
    "Exemptions",
    "MethodMap",
    "MethodNames",
    "Problem",
    "asgi_authorization",
    "bearer_token",
    "check_retry_after",
    "configure",
    "logger",
]

logger = logging.getLogger("paycheck_integrations")
"""Where the adapters report a payment server that could not answer (never with the token)."""

DEFAULT_RETRY_AFTER = 5
"""Seconds a 503 answer asks the client to wait before it tries again."""

MAX_AUTHORIZATION_LENGTH = 4096
"""The longest ``Authorization`` header accepted, in characters; a token is 53."""

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 6750 section 3: error_description may hold only %x20-21 / %x23-5B / %x5D-7E.
_NOT_NQSCHAR = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_WEBSOCKET_REASON_BYTES = 123  # a close frame's reason must fit in 123 bytes (RFC 6455 5.5)


class Problem(enum.Enum):
    """What is wrong with a request's ``Authorization`` header; the value is the description."""

    MISSING = "This service needs a paid access token: send it as 'Authorization: Bearer <token>'."
    NOT_BEARER = (
        "The Authorization header must use the Bearer scheme: 'Authorization: Bearer <token>'."
    )
    NO_TOKEN = "The Authorization header names the Bearer scheme but carries no token."
    SEVERAL = "Send exactly one Authorization header holding one Bearer token."
    MALFORMED = (
        "The bearer token must be one word of ASCII letters, digits and the characters "
        "-._~+/ (RFC 6750)."
    )
    TOO_LONG = f"The Authorization header is longer than {MAX_AUTHORIZATION_LENGTH} characters."


def asgi_authorization(headers: Iterable[tuple[bytes, bytes]]) -> str | Problem | None:
    """The one ``Authorization`` value of an ASGI scope's ``headers`` (decoded as Latin-1).

    Returns ``None`` when there is none and :attr:`Problem.SEVERAL` when there are several.
    """
    found: bytes | None = None
    for name, value in headers:
        if name == b"authorization":
            if found is not None:
                return Problem.SEVERAL
            found = value
    return None if found is None else found.decode("latin-1")


def bearer_token(value: str | Problem | None) -> str | Problem:
    """The token of an ``Authorization`` header value, or the :class:`Problem` with it.

    The scheme is matched case-insensitively (RFC 7235); the token must be an RFC 6750
    ``b64token``. WSGI servers join repeated headers with a comma, so a comma means
    :attr:`Problem.SEVERAL`.

    Example::

        >>> bearer_token("bearer pct_abc")
        'pct_abc'
        >>> bearer_token("Basic dXNlcjpwYXNz") is Problem.NOT_BEARER
        True
    """
    if value is None:
        return Problem.MISSING
    if isinstance(value, Problem):
        return value
    if (
        value.startswith("Bearer ")
        and len(value) <= MAX_AUTHORIZATION_LENGTH
        and _B64TOKEN.fullmatch(value, 7) is not None
    ):
        return value[7:]  # the usual header, read without splitting it apart
    if len(value) > MAX_AUTHORIZATION_LENGTH:
        return Problem.TOO_LONG
    scheme, _, token = value.strip(" \t").partition(" ")
    if scheme.lower() != "bearer":
        return Problem.SEVERAL if "," in scheme else Problem.NOT_BEARER
    token = token.lstrip(" ")
    if not token:
        return Problem.NO_TOKEN
    if _B64TOKEN.fullmatch(token) is None:
        return Problem.SEVERAL if "," in token else Problem.MALFORMED
    return token


class Exemptions:
    """Which requests pass without a token: OPTIONS (CORS preflight) and excluded paths.

    Args:
        exclude_paths: exact paths (``"/health"``) and prefixes ending in ``*`` (``"/docs*"``).

    Raises:
        ValueError: a pattern does not start with ``/``, or has a ``*`` anywhere but at its end.
    """

    __slots__ = ("_exact", "_prefixes", "patterns")

    def __init__(self, exclude_paths: Iterable[str] = ()) -> None:
        if isinstance(exclude_paths, str):
            raise ValueError(
                f"exclude_paths must be a list of paths, not the string {exclude_paths!r}: "
                f"write exclude_paths=[{exclude_paths!r}]"
            )
        exact: set[str] = set()
        prefixes: list[str] = []
        for pattern in exclude_paths:
            if not isinstance(pattern, str) or not pattern.startswith("/"):
                raise ValueError(
                    f"exclude_paths holds paths that start with '/', like '/health' or "
                    f"'/docs*', not {pattern!r}"
                )
            if "*" in pattern[:-1]:
                raise ValueError(
                    f"'*' may only end a pattern of exclude_paths (a prefix), as in '/docs*'; "
                    f"{pattern!r} has one elsewhere"
                )
            if pattern.endswith("*"):
                prefixes.append(pattern[:-1])
            else:
                exact.add(pattern)
        self.patterns = tuple(exclude_paths)
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)

    def __call__(self, http_method: str, path: str) -> bool:
        """Whether a request for ``http_method`` and ``path`` needs no token."""
        return http_method == "OPTIONS" or path in self._exact or path.startswith(self._prefixes)


MethodMap: TypeAlias = Mapping[str, str] | Callable[[str, str], str | None]
"""The ``methods=`` option: path templates to method names, or ``(http_method, path) -> name``."""

_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


def _template_pattern(template: str) -> re.Pattern[str]:
    """A regex for a path template: ``{name}`` is one segment, ``{name:path}`` the rest."""
    parts: list[str] = []
    end = 0
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[end : match.start()]))
        parts.append(".+" if match.group(2) else "[^/]+")
        end = match.end()
    parts.append(re.escape(template[end:]))
    return re.compile("".join(parts))


class MethodNames:
    """Names the method a request calls, remembering the answer per (HTTP method, path).

    The name is, in order: the ``methods`` option's (a mapping or a callable); the route's name
    where the framework knows it; the path's last segment (``"index"`` for ``/``).

    Args:
        methods: a mapping from path templates (``"/items/{id}"``, or with an HTTP method,
            ``"POST /items"``) to method names, or a callable ``(http_method, path)`` that
            returns a name or ``None`` for the default. A callable is called once per
            (HTTP method, path): its answers are remembered.
        maxsize: the most (HTTP method, path) pairs remembered; the oldest go first.

    Raises:
        ValueError: a template or a name is not acceptable.

    Example::

        >>> names = MethodNames({"/items/{id}": "getItem", "POST /items": "addItem"})
        >>> names.resolve("GET", "/items/42"), names.resolve("POST", "/items")
        ('getItem', 'addItem')
    """

    __slots__ = ("_call", "_maxsize", "_memo", "_templates")

    def __init__(self, methods: MethodMap | None = None, *, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be a positive number of entries, not {maxsize!r}")
        self._maxsize = maxsize
        self._memo: dict[tuple[str, str], str] = {}
        self._call: Callable[[str, str], str | None] | None = None
        self._templates: list[tuple[str | None, re.Pattern[str], str]] = []
        if methods is None:
            return
        if isinstance(methods, Mapping):
            self._templates = _parse_templates(methods)
        elif callable(methods):
            self._call = methods
        else:
            raise ValueError(
                "methods must be a mapping like {'/items/{id}': 'getItem', 'POST /items': "
                "'addItem'} or a callable"
                f" (http_method, path) -> name, not {methods!r}"
            )

    def cached(self, http_method: str, path: str) -> str | None:
        """The name remembered for this request, or ``None`` on the first sight of it."""
        return self._memo.get((http_method, path))

    @property
    def lookup(self) -> Callable[[tuple[str, str]], str | None]:
        """:meth:`cached` as a bound ``dict.get`` of ``(http_method, path)``, for hot paths.

        Calling it costs no Python frame; bind it once (``lookup = names.lookup``).
        """
        return self._memo.get

    def resolve(self, http_method: str, path: str, route_name: str | None = None) -> str:
        """Name the method for ``http_method`` and ``path`` and remember it.

        Args:
            route_name: the route's name if the framework knows it.
        """
        name = self._explicit(http_method, path) or route_name or _last_segment(path)
        memo = self._memo
        if len(memo) >= self._maxsize:
            del memo[next(iter(memo))]
        memo[(http_method, path)] = name
        return name

    def _explicit(self, http_method: str, path: str) -> str | None:
        if self._call is not None:
            name = self._call(http_method, path)
            if name is not None and (not isinstance(name, str) or not name):
                raise ValueError(
                    f"the methods callable must return a method name or None, "
                    f"not {name!r} for {http_method} {path}"
                )
            return name
        for method, pattern, name in self._templates:
            if (method is None or method == http_method) and pattern.fullmatch(path):
                return name
        return None


def _parse_templates(methods: Mapping[str, str]) -> list[tuple[str | None, re.Pattern[str], str]]:
    specific: list[tuple[str | None, re.Pattern[str], str]] = []
    generic: list[tuple[str | None, re.Pattern[str], str]] = []
    for key, name in methods.items():
        http_method, _, template = key.rpartition(" ")
        if not isinstance(name, str) or not name:
            raise ValueError(f"methods[{key!r}] must be a non-empty method name, not {name!r}")
        if not template.startswith("/") or (http_method and not http_method.isalpha()):
            raise ValueError(
                f"the keys of methods are path templates like '/items/{{id}}' or "
                f"'POST /items', not {key!r}"
            )
        entry = (http_method.upper() or None, _template_pattern(template), name)
        (specific if http_method else generic).append(entry)
    # A template that names its HTTP method wins over one that does not.
    return specific + generic


def _last_segment(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2] or "index"


@dataclass(frozen=True, slots=True)
class Denial:
    """A ready-made deny response.

    Attributes:
        status: the HTTP status (400, 401, 403 or 503).
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

    __slots__ = ("_decisions", "_problems", "realm", "unavailable")

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
        self._decisions: dict[tuple[int, str | None, str], Denial] = {}

    def _for_problem(self, problem: Problem) -> Denial:
        if problem is Problem.MISSING:
            # RFC 6750 3.1: a request with no credentials gets the challenge without an error.
            return Denial.build(401, problem.value, challenge=self.realm)
        challenge = (
            f'{self.realm}, error="invalid_request", error_description="{_quoted(problem.value)}"'
        )
        return Denial.build(400, problem.value, challenge=challenge)

    def for_problem(self, problem: Problem) -> Denial:
        """The answer to a request whose ``Authorization`` header has ``problem``."""
        return self._problems[problem]

    def for_decision(self, decision: AccessDecision) -> Denial:
        """The answer to a denied token: 403 ``insufficient_scope`` or 401 ``invalid_token``."""
        key = (decision.status, decision.reason, decision.method)
        denial = self._decisions.get(key)
        if denial is None:
            denial = self._for_decision(decision)
            if len(self._decisions) >= 1024:
                self._decisions.clear()  # reasons are few; this only bounds odd servers
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
        """The 503 answer when the payment server could not decide; logs ``error``.

        The validator's errors never hold the token, so logging them leaks nothing.
        """
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


V = TypeVar("V", TokenValidator, AsyncTokenValidator)


def configure(
    service: str | None,
    server_url: str | None,
    validator: V | None,
    validator_type: type[V],
    make: Callable[[str, str], V],
    *,
    follow: bool = True,
) -> tuple[str, V]:
    """Check an adapter's options and return its service and validator.

    Args:
        service: the ``service=`` option.
        server_url: the ``server_url=`` option.
        validator: the ``validator=`` option.
        validator_type: the validator class the adapter needs.
        make: builds a validator from ``(server_url, service)``, following the token-event
            feed as ``follow`` says.
        follow: the ``follow=`` option.

    Raises:
        ValueError: neither or both of ``server_url`` and ``validator``, no service, a service
            other than the validator's, a validator of the wrong kind, or ``follow`` with a
            validator.
    """
    kind = validator_type.__name__
    if server_url is not None and validator is not None:
        raise ValueError(
            "pass either server_url= (the adapter then makes its validator) or validator= "
            f"(a ready {kind}), not both"
        )
    if not isinstance(follow, bool):
        raise ValueError(f"follow must be True or False, not {follow!r}")
    if validator is not None and not follow:
        raise ValueError(
            f"follow=False is for the validator made from server_url=; make yours with "
            f"{kind}(..., follow=False)"
        )
    if validator is not None:
        if not isinstance(validator, validator_type):
            raise ValueError(
                f"validator must be a {kind} for this adapter, not {type(validator).__name__}"
            )
        if service is not None and service != validator.service:
            raise ValueError(
                f"service={service!r} differs from the validator's service "
                f"{validator.service!r}: pass one of them"
            )
        return validator.service, validator
    if not isinstance(service, str) or not service:
        raise ValueError(
            "pass service= with the name of this service in the payment server's catalog, "
            "for example service='Online marketplace'"
        )
    if server_url is None:
        raise ValueError(
            "pass server_url= (the payment server, for example 'http://payments:8000') or "
            f"validator= (a ready {kind})"
        )
    return service, make(server_url, service)
