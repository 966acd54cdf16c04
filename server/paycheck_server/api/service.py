"""The service API (seed ``service.yml``): ``POST /token/check``.

Every answer carries ``Cache-Control: private, max-age=N``: how long a service may keep it
(see :func:`paycheck_server.access.decide`); a grant never longer than the reset grace
(:func:`paycheck_server.access.grant_max_age_cap`), no answer longer than an hour.

The check is the one request services send all day, so its route (:class:`CheckRoute`) takes
a shorter way through FastAPI than the others: a JSON body that validates is parsed by
pydantic straight from the bytes and handed to :func:`check_token`, without FastAPI's
dependency solving (about a quarter of the request's time in the app). Anything else (no body,
another content type, invalid JSON, a missing or invalid field) goes through FastAPI's own
handler, so every 400 is the one FastAPI gives. The OpenAPI document is FastAPI's, from
:func:`check_token`'s signature.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError

from paycheck_core import tokens

from ..access import decide, grant_max_age_cap, invalid_token
from . import render
from .runtime import Runtime
from .schemas import Error, TokenCheckRequest, TokenCheckResponse

__all__ = ["CheckRoute", "check_token", "router"]

# What FastAPI parses as JSON without asking more of the Content-Type (see CheckRoute).
_JSON_TYPES = (None, "application/json")


class CheckRoute(APIRoute):
    """The route of ``POST /token/check``: a valid JSON body skips FastAPI's dependency solving.

    The endpoint must take ``(body: TokenCheckRequest, request: Request)``. Requests whose
    body is not a valid JSON :class:`TokenCheckRequest` sent as ``application/json`` (or
    without a Content-Type) are handled by FastAPI's own handler, unchanged.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler: the short way for a valid body, FastAPI's for anything else."""
        fastapi_handler = super().get_route_handler()
        endpoint = cast(
            Callable[[TokenCheckRequest, Request], Coroutine[Any, Any, Response]], self.endpoint
        )

        async def handler(request: Request) -> Response:
            if request.headers.get("content-type") in _JSON_TYPES:
                raw = await request.body()  # kept by the request for FastAPI's handler
                try:
                    body = TokenCheckRequest.model_validate_json(raw)
                except ValidationError:
                    pass  # FastAPI's handler reads it again and answers its own 400
                else:
                    return await endpoint(body, request)
            return await fastapi_handler(request)

        return handler


router = APIRouter(route_class=CheckRoute)

VALID_FOR_HEADER = "Paycheck-Valid-For"
"""The header of a grant that says how long it stays true if no feed event deactivates the
token first (see :attr:`paycheck_server.access.Decision.valid_for`)."""


@router.post(
    "/token/check",
    tags=["Token"],
    summary="Does a token give access to a method of a service?",
    response_model=TokenCheckResponse,
    responses={
        200: {
            "headers": {
                "Cache-Control": {
                    "description": "private, max-age=N: how long a service may keep the "
                    "answer (a grant: never longer than the reset grace)",
                    "schema": {"type": "string"},
                },
                VALID_FOR_HEADER: {
                    "description": "Seconds the grant stays true unless the token-event feed "
                    "deactivates the token first (for validators that follow the feed)",
                    "schema": {"type": "integer", "minimum": 0},
                },
            }
        },
        **{status: {"model": Error} for status in (400, 401, 403, 500)},
    },
)
async def check_token(body: TokenCheckRequest, request: Request) -> JSONResponse:
    """200 when the token is paid, active and covers the method; 401 for an unknown token, or
    one of this service that is expired, not yet active, replaced or revoked; 403 when it is
    another service's token (the same answer whatever its state) or does not cover the method.
    """
    # The runtime is read here rather than through a dependency: FastAPI charges about
    # 15 us per request for solving one, on the route services call most.
    runtime: Runtime = request.app.state.paycheck
    if tokens.is_well_formed(body.token, prefix=tokens.TOKEN_PREFIX):
        state = await runtime.store.token_state(tokens.digest(body.token))
        decision = decide(
            state,
            service=body.service_name,
            method=body.method_name,
            now=runtime.clock.now(),
            max_grant_age=grant_max_age_cap(
                reset_grace_seconds=runtime.settings.reset_grace_seconds
            ),
        )
    else:
        decision = invalid_token()
    headers = {"Cache-Control": f"private, max-age={decision.max_age}"}
    if decision.valid_for is not None:
        headers[VALID_FOR_HEADER] = str(decision.valid_for)
    return JSONResponse(
        render.check_body(decision, body.service_name, body.method_name),
        status_code=decision.status,
        headers=headers,
    )
