"""Reading what a request carries: its ``Authorization`` header, and whether it is a preflight.

No web framework and no I/O: the adapters pass in an ASGI scope's headers or a WSGI environ.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_AUTHORIZATION_LENGTH",
    "Problem",
    "asgi_authorization",
    "asgi_preflight",
    "bearer_token",
    "wsgi_preflight",
]

MAX_AUTHORIZATION_LENGTH = 4096
"""The longest ``Authorization`` header accepted, in characters; a token is 53."""

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class Problem(enum.Enum):
    """What is wrong with a request's ``Authorization`` header; the value is the description.

    :attr:`MISSING` and :attr:`NOT_BEARER` carry no Bearer credentials at all (RFC 6750 3.1:
    401 with the bare challenge); the others are malformed Bearer credentials (400
    ``invalid_request``).
    """

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
    :attr:`Problem.SEVERAL`. An empty header names no scheme: :attr:`Problem.NOT_BEARER`.

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


def asgi_preflight(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether an ``OPTIONS`` request's ASGI headers make it a CORS preflight.

    A preflight carries both ``Origin`` and ``Access-Control-Request-Method`` (Fetch
    standard); a bare ``OPTIONS`` is an ordinary request.
    """
    origin = method = False
    for name, _ in headers:
        if name == b"origin":
            origin = True
        elif name == b"access-control-request-method":
            method = True
    return origin and method


def wsgi_preflight(environ: Mapping[str, Any]) -> bool:
    """Whether an ``OPTIONS`` request's WSGI environ makes it a CORS preflight."""
    return "HTTP_ORIGIN" in environ and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
