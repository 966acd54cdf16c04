"""HTTP/1.1 over a bare socket, for requests no HTTP client would send.

Example::

    answer = exchange(server.port, request(b"/healthz", [b"X-Big: " + b"a" * 20_000_000]))
    assert answer.status == 431
"""

from __future__ import annotations

import json
import select
import socket
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """The status and body of an answer, and how many bytes were sent before it came."""

    status: int
    body: bytes
    sent: int

    def description(self) -> str:
        """The ``description`` of a JSON error body."""
        text: str = json.loads(self.body)["description"]
        return text


def exchange(port: int, data: bytes) -> Answer:
    """Send ``data`` on a new connection until the server answers; read the answer to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        sent = 0
        try:
            while sent < len(data):
                readable, _, _ = select.select([connection], [], [], 0)
                if readable:
                    break  # the server answered before reading everything
                sent += connection.send(data[sent : sent + CHUNK])
        except (BrokenPipeError, ConnectionResetError):
            pass
        received = b""
        try:
            while chunk := connection.recv(CHUNK):
                received += chunk
        except ConnectionResetError:
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), f"no answer after {sent} bytes: {received[:200]!r}"
    return Answer(int(head.split(b" ")[1]), body, sent)


def request(
    target: bytes = b"/healthz",
    fields: list[bytes] | None = None,
    *,
    method: bytes = b"GET",
    body: bytes = b"",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """A request that closes its connection; ``fields`` are raw ``Name: value`` lines."""
    lines = [method + b" " + target + b" " + version, b"Host: paycheck.test", *(fields or [])]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join([*lines, b"Connection: close", b"", b""]) + body
