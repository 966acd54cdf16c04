"""Limits on the request head: the URL, the size of the header fields and their number.

The head of a request (request line and header fields) is what a server buffers before the
app sees anything, so its limits are enforced twice:

- by ``paycheck-server``'s HTTP protocol while it reads the bytes
  (:mod:`paycheck_server.serving`), so that a 20 MB header never sits in memory;
- by :class:`HeaderLimitMiddleware`, in the app, so that they hold under any ASGI server.

Both count the same way (:class:`HeadLimits`): the request target (path and query string)
and every header name and value, in bytes. A target above ``max_header_bytes`` gets 414, a
head above it or more than ``max_headers`` header fields get 431, each with a
``{"description"}`` body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import Settings
from ._refusal import refuse

__all__ = ["HeadLimits", "HeaderLimitMiddleware", "Refusal"]


@dataclass(frozen=True)
class Refusal:
    """Why a request head is refused: the status (414 or 431) and the description to send."""

    status: int
    description: str


@dataclass(frozen=True, kw_only=True)
class HeadLimits:
    """How large a request head may be.

    Attributes:
        max_header_bytes: the request target and the header names and values together, in bytes.
        max_headers: the number of header fields.

    Raises:
        ValueError: a limit is not a positive integer.
    """

    max_header_bytes: int
    max_headers: int

    def __post_init__(self) -> None:
        for name in ("max_header_bytes", "max_headers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> HeadLimits:
        """The limits ``PAYCHECK_MAX_HEADER_BYTES`` and ``PAYCHECK_MAX_HEADERS`` set."""
        return cls(max_header_bytes=settings.max_header_bytes, max_headers=settings.max_headers)

    @property
    def max_raw_head_bytes(self) -> int:
        """The most bytes a head within the limits takes on the wire, with room for what the
        limits do not count: the method, the version, the separators of every line."""
        return self.max_header_bytes + 4 * self.max_headers + 1024

    def check_target(self, size: int) -> Refusal | None:
        """The refusal of a request target (path and query) of ``size`` bytes, if any."""
        if size > self.max_header_bytes:
            return Refusal(414, f"The request URL is longer than {self.max_header_bytes} bytes")
        return None

    def check_head(self, *, size: int, fields: int) -> Refusal | None:
        """The refusal of a head of ``size`` bytes (target included) with ``fields`` headers."""
        if fields > self.max_headers:
            return Refusal(431, f"The request has more than {self.max_headers} header fields")
        if size > self.max_header_bytes:
            return Refusal(
                431,
                f"The request URL and header fields are larger than {self.max_header_bytes} bytes",
            )
        return None

    def check_scope(self, scope: Scope) -> Refusal | None:
        """The refusal of the head an ASGI server put in ``scope``, if any."""
        headers: Iterable[tuple[bytes, bytes]] = scope["headers"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope["query_string"]
        target = len(raw_path) + (len(query) + 1 if query else 0)
        refused = self.check_target(target)
        if refused is not None:
            return refused
        fields = 0
        size = target
        for name, value in headers:
            fields += 1
            size += len(name) + len(value)
        return self.check_head(size=size, fields=fields)


class HeaderLimitMiddleware:
    """Answer 414 or 431 ``{"description"}`` to HTTP requests whose head is too large.

    Example::

        app.add_middleware(HeaderLimitMiddleware, max_header_bytes=16384, max_headers=100)

    Raises:
        ValueError: a limit is not a positive integer.
    """

    def __init__(self, app: ASGIApp, *, max_header_bytes: int, max_headers: int) -> None:
        self.app = app
        self.limits = HeadLimits(max_header_bytes=max_header_bytes, max_headers=max_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.limits.check_scope(scope)
        if refused is not None:
            await refuse(send, refused.status, refused.description)
            return
        await self.app(scope, receive, send)
