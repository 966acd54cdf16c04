"""The client API (seed ``client.yml``): bill, pay, payment info, token reset; and the catalog.

Answers that carry a secret (``/bill``, ``/pay``, ``/token/reset``) are sent with
``Cache-Control: no-store``. ``Idempotency-Key`` on ``/bill`` and ``/pay`` replays the first
answer (with ``Idempotent-Replayed: true``); see :mod:`paycheck_server.idempotency`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from paycheck_core import tokens

from .. import idempotency
from ..domain import quote, validate_period
from ..errors import NotFoundError
from ..store import ARTIFACT_NOT_FOUND, Memo
from . import render
from .runtime import Runtime, RuntimeDep
from .schemas import (
    Error,
    GetBillRequest,
    GetBillResponse,
    PaymentInfoRequest,
    PaymentInfoResponse,
    PayRequest,
    PayResponse,
    ServiceList,
    TokenRequest,
    TokenResponse,
)

__all__ = ["router"]

router = APIRouter()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A random UUID: retrying with the same key and body replays the first "
        "answer; another body with the same key is a 400. Kept for at least 24 hours.",
    ),
]
_NO_STORE = {"Cache-Control": "no-store"}
_REPLAYED = {**_NO_STORE, "Idempotent-Replayed": "true"}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Error} for status in (*statuses, 500)}


def _artifact(value: str) -> str:
    # A malformed artifact cannot be known: answer as for an unknown one, without a lookup.
    if not tokens.is_well_formed(value, prefix=tokens.ARTIFACT_PREFIX):
        raise NotFoundError(ARTIFACT_NOT_FOUND)
    return value


async def _replay(
    runtime: Runtime, endpoint: str, key: str, body: Any, *, prefix: str, field: str
) -> JSONResponse | None:
    stored = await runtime.store.find_key(endpoint, idempotency.key_digest(key))
    if stored is None:
        return None
    answer = idempotency.replay(
        stored,
        key=key,
        request=idempotency.request_digest(endpoint, body),
        prefix=prefix,
        field=field,
    )
    return JSONResponse(answer, headers=_REPLAYED)


@router.get(
    "/services",
    tags=["Catalog"],
    summary="The catalog: services, methods for sale and their prices per day",
    response_model=ServiceList,
    responses=_errors(503),
)
async def list_services(runtime: RuntimeDep) -> JSONResponse:
    """Every service with the methods it sells; private methods are never listed."""
    return JSONResponse(render.services_body(runtime.catalog(), runtime.settings.currency))


@router.post(
    "/bill",
    tags=["Payment"],
    summary="Make a bill for a service's methods over a period",
    response_model=GetBillResponse,
    responses=_errors(400, 404, 503),
)
async def create_bill(
    body: GetBillRequest, runtime: RuntimeDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Price the methods (all when omitted) for the inclusive UTC days and return the bill.

    The ``paymentArtifact`` is returned only here: it is the only way to pay the bill, read
    the payment and reset the token.
    """
    request = body.model_dump(mode="json", by_alias=True)
    prefix = tokens.ARTIFACT_PREFIX
    if idempotency_key is not None:
        key = idempotency.validate_key(idempotency_key)
        replayed = await _replay(
            runtime, "bill", key, request, prefix=prefix, field="paymentArtifact"
        )
        if replayed is not None:
            return replayed
    catalog = runtime.catalog()
    service = catalog.service(body.service_name)
    if service is None:
        raise NotFoundError(f"Service {body.service_name!r} not found")
    settings = runtime.settings
    period = validate_period(
        body.date_from,
        body.date_to,
        today=runtime.clock.now().date(),
        max_days=settings.max_period_days,
    )
    priced = quote(service, body.methods, period)
    memo = None
    if idempotency_key is None:
        artifact = tokens.generate_artifact()
    else:
        new = idempotency.new_key("bill", idempotency_key, request, prefix=prefix)
        artifact = new.secret
        memo = Memo(new, render.bill_body, settings.idempotency_ttl_seconds)
    try:
        bill = await runtime.store.create_bill(
            priced,
            artifact_digest=tokens.digest(artifact),
            currency=settings.currency,
            ttl_seconds=settings.bill_ttl_seconds,
            memo=memo,
        )
    except IntegrityError:
        # A concurrent request with the same key won the race: answer as it did.
        if idempotency_key is None:
            raise
        replayed = await _replay(
            runtime, "bill", idempotency_key, request, prefix=prefix, field="paymentArtifact"
        )
        if replayed is None:
            raise
        return replayed
    return JSONResponse({**render.bill_body(bill), "paymentArtifact": artifact}, headers=_NO_STORE)


@router.post(
    "/pay",
    tags=["Payment"],
    summary="Pay a bill and get an access token",
    response_model=PayResponse,
    responses=_errors(400, 402, 404),
)
async def pay(
    body: PayRequest, runtime: RuntimeDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Charge the bill once and issue a token.

    Paying a paid bill charges nothing and answers "Payment already processed" with a fresh
    token; the previous token keeps working for the reset grace period. The sandbox declines
    the test cards ``4000000000000002`` and ``4000000000009995`` with a 402.
    """
    request = body.model_dump(mode="json", by_alias=True)
    prefix = tokens.TOKEN_PREFIX
    if idempotency_key is not None:
        key = idempotency.validate_key(idempotency_key)
        replayed = await _replay(runtime, "pay", key, request, prefix=prefix, field="token")
        if replayed is not None:
            return replayed
    artifact = _artifact(body.payment_artifact)
    memo = None
    if idempotency_key is None:
        token = tokens.generate_token()
    else:
        new = idempotency.new_key("pay", idempotency_key, request, prefix=prefix)
        token = new.secret
        memo = Memo(new, render.pay_body, runtime.settings.idempotency_ttl_seconds)
    try:
        result = await runtime.store.pay(
            tokens.digest(artifact),
            token_digest=tokens.digest(token),
            provider=runtime.provider,
            card=body.card,
            grace_seconds=runtime.settings.reset_grace_seconds,
            memo=memo,
        )
    except IntegrityError:
        if idempotency_key is None:
            raise
        replayed = await _replay(
            runtime, "pay", idempotency_key, request, prefix=prefix, field="token"
        )
        if replayed is None:
            raise
        return replayed
    return JSONResponse({**render.pay_body(result), "token": token}, headers=_NO_STORE)


@router.post(
    "/payment/info",
    tags=["Payment"],
    summary="What a paid bill gives access to, and until when",
    response_model=PaymentInfoResponse,
    responses=_errors(400, 404),
)
async def payment_info(body: PaymentInfoRequest, runtime: RuntimeDep) -> JSONResponse:
    """The paid period, service and methods of the artifact's bill (404 while unpaid)."""
    bill = await runtime.store.paid_bill(tokens.digest(_artifact(body.payment_artifact)))
    return JSONResponse(render.payment_info_body(bill))


@router.post(
    "/token/reset",
    tags=["Token"],
    summary="Issue a new token; the previous one stops after a grace period",
    response_model=TokenResponse,
    responses=_errors(400, 404),
)
async def reset_token(body: TokenRequest, runtime: RuntimeDep) -> JSONResponse:
    """Issue a new current token for the paid bill.

    The previous token works for ``PAYCHECK_RESET_GRACE_SECONDS`` more (300 by default);
    tokens replaced before it stop at once.
    """
    token = tokens.generate_token()
    await runtime.store.reset_token(
        tokens.digest(_artifact(body.payment_artifact)),
        token_digest=tokens.digest(token),
        grace_seconds=runtime.settings.reset_grace_seconds,
    )
    return JSONResponse({"token": token}, headers=_NO_STORE)
