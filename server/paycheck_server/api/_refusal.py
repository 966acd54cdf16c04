"""The raw ASGI answer of the size guards, sent before the app has seen the request."""

from __future__ import annotations

import json

from starlette.types import Send

__all__ = ["refuse"]


async def refuse(send: Send, status: int, description: str) -> None:
    """Answer ``status`` with ``{"description": ...}`` and ask to close the connection."""
    body = json.dumps({"description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
