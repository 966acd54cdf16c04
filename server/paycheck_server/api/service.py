"""The service API (seed ``service.yml``): ``POST /token/check``.

Every answer carries ``Cache-Control: private, max-age=N``: how long a service may keep it
(see :func:`paycheck_server.access.decide`), never more than an hour.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from paycheck_core import tokens

from ..access import decide, invalid_token
from . import render
from .runtime import RuntimeDep
from .schemas import Error, TokenCheckRequest, TokenCheckResponse

__all__ = ["router"]

router = APIRouter()


@router.post(
    "/token/check",
    tags=["Token"],
    summary="Does a token give access to a method of a service?",
    response_model=TokenCheckResponse,
    responses={status: {"model": Error} for status in (400, 401, 403, 500)},
)
async def check_token(body: TokenCheckRequest, runtime: RuntimeDep) -> JSONResponse:
    """200 when the token is paid, active and covers the method; 401 for an unknown, expired,
    not yet active, replaced or revoked token; 403 when it covers another service or method.
    """
    if tokens.is_well_formed(body.token, prefix=tokens.TOKEN_PREFIX):
        state = await runtime.store.token_state(tokens.digest(body.token))
        decision = decide(
            state,
            service=body.service_name,
            method=body.method_name,
            now=runtime.clock.now(),
        )
    else:
        decision = invalid_token()
    return JSONResponse(
        render.check_body(decision, body.service_name, body.method_name),
        status_code=decision.status,
        headers={"Cache-Control": f"private, max-age={decision.max_age}"},
    )
