"""uvicorn's httptools protocol, with limits on the request head enforced while it is read.

uvicorn's httptools protocol accepts a request head of any size: a 20 MB header or thousands
of header fields are buffered whole before the app can refuse them. This protocol counts
what the parser reports — the URL as it arrives, each header field as it ends — and the raw
bytes of a head that is still open (httptools buffers a header field until its end), and
refuses a head past its :class:`~paycheck_server.api.header_limit.HeadLimits` with 414 or
431 and a ``{"description"}`` body, at most one read after the limit.

``paycheck-server`` serves with it (:func:`paycheck_server.serving.uvicorn_options`); it needs
``httptools`` (``uvicorn[standard]``). Under plain uvicorn::

    uvicorn --factory paycheck_server.api.app:app_from_environment \\
        --http paycheck_server.http_protocol:HeadLimitedHttpToolsProtocol
"""

from __future__ import annotations

import asyncio
import functools
import http
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from .api.header_limit import HeadLimits, Refusal
from .settings import Settings

__all__ = ["LINGER_SECONDS", "HeadLimitedHttpToolsProtocol", "limits_from_environment"]

LINGER_SECONDS = 2.0
"""How long a refused connection keeps reading (and dropping) what the client still sends."""


@functools.cache
def limits_from_environment() -> HeadLimits:
    """The limits of the ``PAYCHECK_*`` variables, read once per process."""
    return HeadLimits.from_settings(Settings())


class _HeadTooLargeError(Exception):
    """Raised in a parser callback to stop httptools at the field that broke a limit."""


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    """An HTTP/1.1 protocol for uvicorn that refuses request heads past ``limits``.

    uvicorn builds one per connection. Without ``limits``, those of the ``PAYCHECK_*``
    variables apply (:func:`limits_from_environment`)::

        uvicorn.run(app, http="paycheck_server.http_protocol:HeadLimitedHttpToolsProtocol")
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or limits_from_environment()
        self._messages = 0
        self._head_open = False
        self._head_size = 0
        self._fields = 0
        self._unparsed = 0
        self._refusal: Refusal | None = None
        self._linger: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        """Feed ``data`` to the parser, then refuse a head still open past the limit."""
        if self._refusal is not None:
            return  # answered already: what the client still sends is read and dropped
        messages = self._messages
        super().data_received(data)
        if self._head_open and self._refusal is None and self._messages == messages:
            # The head was open before this read and still is: all of it is head, possibly
            # a header field httptools keeps to itself until it ends.
            self._unparsed += len(data)
            if self._unparsed > self.limits.max_raw_head_bytes:
                self._answer(self.limits.check_head(size=self._unparsed, fields=0))

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop lingering and let uvicorn clean up."""
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """Answer a refused head with its own status, other parser errors with uvicorn's 400."""
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._answer(self._refusal)

    # Parser callbacks
    def on_message_begin(self) -> None:
        """Start counting a new head."""
        super().on_message_begin()
        self._messages += 1
        self._head_open = True
        self._head_size = self._fields = self._unparsed = 0

    def on_url(self, url: bytes) -> None:
        """Count a piece of the URL."""
        super().on_url(url)
        self._head_size += len(url)
        self._stop(self.limits.check_target(len(self.url)))

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count a header field."""
        super().on_header(name, value)
        self._fields += 1
        self._head_size += len(name) + len(value)
        self._stop(self.limits.check_head(size=self._head_size, fields=self._fields))

    def on_headers_complete(self) -> None:
        """The head fits: hand the request to uvicorn."""
        self._head_open = False
        super().on_headers_complete()

    def _stop(self, refusal: Refusal | None) -> None:
        if refusal is not None:
            self._refusal = refusal
            # httptools turns this into HttpParserError; uvicorn then calls send_400_response.
            raise _HeadTooLargeError(refusal.description)

    def _answer(self, refusal: Refusal | None) -> None:
        if refusal is None or self.transport.is_closing():
            return
        self._refusal = refusal
        self.logger.warning("Request head refused with %d: %s", refusal.status, refusal.description)
        body = json.dumps({"description": refusal.description}).encode()
        lines = [f"HTTP/1.1 {refusal.status} {http.HTTPStatus(refusal.status).phrase}".encode()]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        # Closing a socket that still has unread input resets the connection, and a client
        # still sending its head would lose the answer with it: close the writing side, keep
        # reading (and dropping) for a moment, close when the client does or the time is up.
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
