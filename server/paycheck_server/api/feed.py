"""The token-event feed of the service API: ``GET /token/events?service=NAME`` (SSE).

No authentication, like ``/token/check``: an event names a service and a token's SHA-256
digest, which only someone holding the token can match. The stream ends when the server shuts
down (sse-starlette watches uvicorn's exit signal), so a server with followers still stops at
once.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from sse_starlette import EventSourceResponse

from ..errors import NotFoundError
from ..events.stream import Subscription
from .runtime import Runtime
from .schemas import Error

__all__ = ["router"]

router = APIRouter(tags=["Token"])

# How long a send to a follower may block (a client that stopped reading) before its stream
# is dropped.
_SEND_TIMEOUT_SECONDS = 30.0
_SHUTDOWN_GRACE_SECONDS = 1.0

_STREAM_DESCRIPTION = """\
Server-Sent Events, one JSON object per `data:` line:

- `event: deactivated`, `id: <event id>`: `{"service", "tokenDigest", "stopsAt", "reason"}`:
  the token whose SHA-256 hex digest is `tokenDigest` is refused from `stopsAt` (RFC 3339 UTC,
  possibly past) on; `reason` is `revoked`, `reset` or `replaced`.
- `event: heartbeat` (no `id:`): `{"lastEventId", "serverTime", "heartbeatSeconds"}`, first
  and then every `heartbeatSeconds`.
- `event: reset`, `id: <newest id>`: `{"description", "lastEventId"}`: the events after the
  requested id are no longer kept; drop every cached answer and go on from `lastEventId`.
"""


@router.get(
    "/token/events",
    summary="Follow the deactivations of a service's tokens (Server-Sent Events)",
    response_class=Response,
    responses={
        200: {
            "description": _STREAM_DESCRIPTION,
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
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
