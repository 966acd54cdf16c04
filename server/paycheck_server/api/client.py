"""The client API (seed ``client.yml``): bill, pay, payment info, token reset; and the catalog.

Answers that carry a secret (``/bill``, ``/pay``, ``/token/reset``) are sent with
``Cache-Control: no-store``. ``Idempotency-Key`` on ``/bill`` and ``/pay`` replays the first
answer (with ``Idempotent-Replayed: true``); see :mod:`paycheck_server.idempotency`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from paycheck_core import tokens

from .. import idempotency
from ..domain import quote, validate_period
from ..errors import NotFoundError, UnavailableError
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

T = TypeVar("T")

router = APIRouter()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A secret of at least 128 bits, such as a random UUID (uuid4) or 32 random "
        "hex or base62 characters. Retrying with the same key and body replays the first answer, "
        "its artifact or token included; another body with the same key is a 400. A key too "
        "weak to be a secret (fewer than 128 bits of estimated randomness, repetitive or "
        "sequential, a UUID other than version 4) is a 400. Stored only as its SHA-256 digest "
        "and kept for at least 24 hours. On /pay the key is taken before the payment provider "
        "is called: after a lost answer or a 503, retry with the same key; the bill is never "
        "charged twice.",
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


_GENERATE = {
    tokens.ARTIFACT_PREFIX: tokens.generate_artifact,
    tokens.TOKEN_PREFIX: tokens.generate_token,
}


@dataclass(frozen=True, slots=True)
class _Idempotent:
    """One request to ``/bill`` or ``/pay`` and its ``Idempotency-Key``, if it sent one.

    Attributes:
        runtime: the server's runtime.
        endpoint: ``"bill"`` or ``"pay"``.
        key: the checked ``Idempotency-Key``, or ``None``.
        request: the request body as JSON.
        prefix: the prefix of the secret the answer carries.
        field: the answer's field that carries the secret.
    """

    runtime: Runtime
    endpoint: str
    key: str | None
    request: dict[str, Any]
    prefix: str
    field: str

    async def replayed(self) -> JSONResponse | None:
        """The first answer to this key, if there was one.

        Raises:
            BadRequestError: the key was used with another request body.
        """
        if self.key is None:
            return None
        stored = await self.runtime.store.find_key(self.endpoint, idempotency.key_digest(self.key))
        if stored is None:
            return None
        answer = idempotency.replay(
            stored,
            key=self.key,
            request=idempotency.request_digest(self.endpoint, self.request),
            prefix=self.prefix,
            field=self.field,
        )
        if answer is None:
            return None
        return JSONResponse(answer, headers=_REPLAYED)

    def secret(self, render: Callable[[T], dict[str, Any]]) -> tuple[str, Memo[T] | None]:
        """The answer's new secret, and the memo that remembers the key with the answer."""
        if self.key is None:
            return _GENERATE[self.prefix](), None
        new = idempotency.new_key(self.endpoint, self.key, self.request, prefix=self.prefix)
        return new.secret, Memo(new, render, self.runtime.settings.idempotency_ttl_seconds)

    async def after_race(self, error: Exception) -> JSONResponse:
        """The answer when another request with this key came first: its answer, or a 400."""
        replayed = await self.replayed()
        if replayed is None:
            raise UnavailableError(
                "Another request with this Idempotency-Key is in progress; retry in a moment"
            ) from error
        return replayed


def _idempotent(
    runtime: Runtime, endpoint: str, key: str | None, body: Any, *, prefix: str, field: str
) -> _Idempotent:
    key = None if key is None else idempotency.validate_key(key)
    request = body.model_dump(mode="json", by_alias=True)
    return _Idempotent(runtime, endpoint, key, request, prefix, field)


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
    call = _idempotent(
        runtime,
        "bill",
        idempotency_key,
        body,
        prefix=tokens.ARTIFACT_PREFIX,
        field="paymentArtifact",
    )
    replayed = await call.replayed()
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
    artifact, memo = call.secret(render.bill_body)
    try:
        bill = await runtime.store.create_bill(
            priced,
            artifact_digest=tokens.digest(artifact),
            currency=settings.currency,
            ttl_seconds=settings.bill_ttl_seconds,
            memo=memo,
        )
    except IntegrityError as error:
        if memo is None:
            raise
        return await call.after_race(error)
    return JSONResponse({**render.bill_body(bill), "paymentArtifact": artifact}, headers=_NO_STORE)


@router.post(
    "/pay",
    tags=["Payment"],
    summary="Pay a bill and get an access token",
    response_model=PayResponse,
    responses=_errors(400, 402, 404, 503),
)
async def pay(
    body: PayRequest, runtime: RuntimeDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Charge the bill once and issue a token.

    Paying a paid bill charges nothing and answers "Payment already processed" with a fresh
    token; as on a reset, the previous token keeps working for the grace period and one
    already in its grace stops. The sandbox declines the test cards ``4000000000000002`` and
    ``4000000000009995`` with a 402. A 503 means the payment provider's answer was lost:
    retry the same request, which never charges twice.
    """
    call = _idempotent(
        runtime, "pay", idempotency_key, body, prefix=tokens.TOKEN_PREFIX, field="token"
    )
    replayed = await call.replayed()
    if replayed is not None:
        return replayed
    artifact = _artifact(body.payment_artifact)
    token, memo = call.secret(render.pay_body)
    try:
        result = await runtime.store.pay(
            tokens.digest(artifact),
            token=token,
            provider=runtime.provider,
            card=body.card,
            grace_seconds=runtime.settings.reset_grace_seconds,
            memo=memo,
        )
    except idempotency.KeyTaken as error:
        return await call.after_race(error)
    return JSONResponse({**render.pay_body(result), "token": result.token}, headers=_NO_STORE)


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
