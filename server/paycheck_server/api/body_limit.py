"""A pure ASGI middleware that refuses request bodies above a size, before reading them whole.

A ``Content-Length`` above the limit is answered with 413 at once; a body without one (chunked)
is counted as it streams, and the request fails with 413 as soon as it passes the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._refusal import refuse

__all__ = ["BodyLimitMiddleware"]


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """Answer 413 ``{"description"}`` to HTTP requests whose body exceeds ``max_body_bytes``.

    Example::

        app.add_middleware(BodyLimitMiddleware, max_body_bytes=65536)

    Raises:
        ValueError: ``max_body_bytes`` is not a positive integer.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ValueError(f"max_body_bytes must be a positive int, not {max_body_bytes!r}")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be a positive int, not {max_body_bytes!r}")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await refuse(send, 400, "Content-Length is not a number")
                    return
                if declared > limit:
                    await refuse(send, 413, _TooLarge(limit).detail)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge as exc:
            # The app's exception handlers usually answer first; this covers code that reads
            # the body outside them.
            if not started:
                await refuse(send, 413, exc.detail)
