"""The token-event feed of the service API: ``GET /token/events?service=NAME`` (SSE).

No authentication, like ``/token/check``: an event names a service and a token's SHA-256
digest, which only someone holding the token can match. The stream ends when the server shuts
down (sse-starlette watches uvicorn's exit signal), so a server with followers still stops at
once.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from ..errors import NotFoundError
from ..events import Reason
from ..events.stream import Subscription
from .runtime import Runtime
from .schemas import Error

__all__ = ["Deactivation", "Heartbeat", "Reset", "router"]

router = APIRouter(tags=["Token"])

# How long a send to a follower may block (a client that stopped reading) before its stream
# is dropped.
_SEND_TIMEOUT_SECONDS = 30.0
_SHUTDOWN_GRACE_SECONDS = 1.0


class Deactivation(BaseModel):
    """The ``data`` of ``event: deactivated``."""

    service: str = Field(description="The service name of the token's bill.")
    token_digest: str = Field(
        alias="tokenDigest",
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 hex digest of the token (UTF-8): never the token.",
    )
    stops_at: str = Field(
        alias="stopsAt",
        description="RFC 3339 UTC instant from which the token is refused; may be past.",
    )
    reason: Reason


class Heartbeat(BaseModel):
    """The ``data`` of ``event: heartbeat``."""

    last_event_id: int = Field(
        alias="lastEventId", ge=0, description="The newest event id delivered, any service."
    )
    server_time: str = Field(alias="serverTime", description="RFC 3339 UTC.")
    heartbeat_seconds: float = Field(
        alias="heartbeatSeconds", gt=0, description="The interval of heartbeats."
    )


class Reset(BaseModel):
    """The ``data`` of ``event: reset``."""

    description: str
    last_event_id: int = Field(alias="lastEventId", ge=0, description="Go on from this id.")


def _message_schema(
    event: str, data: type[BaseModel], *, with_id: bool, description: str
) -> dict[str, Any]:
    required = ["event", "data", *(["id"] if with_id else [])]
    return {
        "title": data.__name__,
        "description": description,
        "type": "object",
        "required": required,
        "properties": {
            "event": {"const": event},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "retry": {"type": "integer"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data.model_json_schema(by_alias=True),
            },
        },
    }


# Each message of the stream; `data` is a JSON object, as its contentSchema says.
_MESSAGE = {
    "oneOf": [
        _message_schema(
            "deactivated",
            Deactivation,
            with_id=True,
            description="The token is refused from stopsAt on; id is the event id.",
        ),
        _message_schema(
            "heartbeat",
            Heartbeat,
            with_id=False,
            description="First (with retry), then every heartbeatSeconds; sends no id.",
        ),
        _message_schema(
            "reset",
            Reset,
            with_id=True,
            description="The requested events are gone: drop every cached answer, go on.",
        ),
    ]
}


@router.get(
    "/token/events",
    summary="Follow the deactivations of a service's tokens (Server-Sent Events)",
    response_class=Response,
    responses={
        200: {
            "description": "Server-Sent Events: deactivated, heartbeat and reset messages",
            "content": {"text/event-stream": {"schema": _MESSAGE}},
        },
        400: {"model": Error, "description": "`service` is missing, empty or too long"},
        404: {"model": Error, "description": "The feed is disabled on this server"},
        503: {"model": Error, "description": "The database cannot be reached"},
    },
)
async def token_events(
    request: Request,
    service: Annotated[str, Query(min_length=1, max_length=200, description="The service's name.")],
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this event id (sent by EventSource on reconnect).",
        ),
    ] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(
            alias="lastEventId",
            description="Resume after this event id, when a header cannot be sent.",
        ),
    ] = None,
) -> Response:
    """The events of ``service``, then live ones: without ``Last-Event-ID`` from now on,
    with it every kept event after that id first (or a ``reset`` when some are gone).
    An unknown service is not an error: it gets heartbeats until it has events.
    """
    runtime: Runtime = request.app.state.paycheck
    settings = runtime.settings
    if not settings.feed_enabled:
        raise NotFoundError("The token-event feed is disabled on this server")
    shutdown = anyio.Event()
    subscription = Subscription(
        runtime.feed,
        service=service,
        heartbeat_seconds=settings.feed_heartbeat_seconds,
        clock=runtime.clock,
        shutdown=shutdown,
    )
    # The header wins: a browser reconnects with the header and its first URL, query included.
    await subscription.open(last_event_id if last_event_id is not None else last_event_id_query)
    return EventSourceResponse(
        subscription.messages(),
        headers={"Cache-Control": "no-cache"},
        ping=0,
        send_timeout=_SEND_TIMEOUT_SECONDS,
        # On shutdown the stream ends by itself, its response complete; cancelled only if not.
        shutdown_event=shutdown,
        shutdown_grace_period=_SHUTDOWN_GRACE_SECONDS,
    )
