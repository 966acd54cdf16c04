"""Request and response bodies, named as in the seed contract (``GetBillRequest``, ...).

Requests are validated by these models (a failure is a 400 naming the field). Responses are
built as plain dicts by :mod:`paycheck_server.api.render`; the response models here document
them in the OpenAPI contracts. Unknown request fields are ignored, so clients can send fields
of newer versions.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "Error",
    "GetBillRequest",
    "GetBillResponse",
    "Health",
    "MethodPrice",
    "PayRequest",
    "PayResponse",
    "PaymentInfoRequest",
    "PaymentInfoResponse",
    "ServiceList",
    "TokenCheckRequest",
    "TokenCheckResponse",
    "TokenRequest",
    "TokenResponse",
]

Name = Annotated[str, Field(min_length=1, max_length=200)]
# Far longer than any artifact or token; a longer value is a mistake worth a 400.
Secret = Annotated[str, Field(min_length=1, max_length=1000)]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    # The contract says `format: date`: a "YYYY-MM-DD" string. Pydantic alone would also take
    # a midnight date-time or a number of seconds since 1970, which no client means.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError(
        "date_format",
        "Input should be a valid date written YYYY-MM-DD, got {value}",
        {"value": repr(value)[:40]},
    )


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Error(_Body):
    """Every error answer: a sentence saying what is wrong."""

    description: str = Field(examples=["serviceName is required"])


class GetBillRequest(_Body):
    """``POST /bill``: the service, its methods (all when omitted) and the period."""

    service_name: Name = Field(alias="serviceName", examples=["Online marketplace"])
    methods: list[Name] | None = Field(
        None, max_length=100, description="Omitted: every method of the service."
    )
    date_from: IsoDate = Field(alias="dateFrom", description="First paid day (UTC), not past.")
    date_to: IsoDate = Field(alias="dateTo", description="Last paid day (UTC), inclusive.")


class MethodPrice(_Body):
    """A line of a bill: a method and its price for the whole period."""

    method_name: str = Field(alias="methodName", examples=["getInfo"])
    price: float = Field(examples=[120.2])


class GetBillResponse(_Body):
    """A new bill; ``paymentArtifact`` is shown only here, once."""

    service_name: str = Field(alias="serviceName")
    methods: list[MethodPrice]
    date_from: date = Field(alias="dateFrom")
    date_to: date = Field(alias="dateTo")
    total_price: float = Field(alias="totalPrice", examples=[277.12])
    payment_artifact: str = Field(alias="paymentArtifact")
    bill_id: str = Field(alias="billId")
    currency: str = Field(examples=["USD"])
    expires_at: datetime = Field(alias="expiresAt", description="When the unpaid bill expires.")
    status: Literal["unpaid", "paid"]


class PayRequest(_Body):
    """``POST /pay``: the artifact, and a card number for the sandbox's test outcomes."""

    payment_artifact: Secret = Field(alias="paymentArtifact")
    card: Annotated[str, Field(max_length=40)] | None = Field(
        None,
        description="Sandbox: 4000000000000002 is declined, 4000000000009995 has "
        "insufficient funds, anything else or nothing is approved.",
    )


class PayResponse(_Body):
    """A paid bill and a new access token."""

    message: str = Field(examples=["Payment succeeded", "Payment already processed"])
    token: str
    bill_id: str = Field(alias="billId")
    status: Literal["paid"]
    paid_until: date = Field(alias="paidUntil")
    already_paid: bool = Field(alias="alreadyPaid")


class PaymentInfoRequest(_Body):
    """``POST /payment/info``."""

    payment_artifact: Secret = Field(alias="paymentArtifact")


class PaymentInfoResponse(_Body):
    """What a paid bill gives access to, and until when."""

    paid_until: date = Field(alias="paidUntil")
    available_service: str = Field(alias="availableService")
    methods: list[str]
    date_from: date = Field(alias="dateFrom")
    bill_id: str = Field(alias="billId")
    status: Literal["paid"]


class TokenRequest(_Body):
    """``POST /token/reset``."""

    payment_artifact: Secret = Field(alias="paymentArtifact")


class TokenResponse(_Body):
    """A new access token; the previous one works until the grace period ends."""

    token: str


class TokenCheckRequest(_Body):
    """``POST /token/check``."""

    token: Annotated[str, Field(min_length=1, max_length=1000)]
    service_name: Name = Field(alias="serviceName")
    method_name: Name = Field(alias="methodName")


class TokenCheckResponse(_Body):
    """Access granted (denials are 401/403 errors)."""

    allowed: bool
    service_name: str = Field(alias="serviceName")
    method_name: str = Field(alias="methodName")
    paid_until: date | None = Field(None, alias="paidUntil")
    message: str | None = Field(None, examples=["Access granted"])


class CatalogMethodOut(_Body):
    """A method for sale and its price per day."""

    method_name: str = Field(alias="methodName")
    price_per_day: float = Field(alias="pricePerDay")


class CatalogServiceOut(_Body):
    """A service for sale."""

    service_name: str = Field(alias="serviceName")
    currency: str
    methods: list[CatalogMethodOut]


class ServiceList(_Body):
    """``GET /services``: the catalog (private methods are never listed)."""

    services: list[CatalogServiceOut]


class Health(_Body):
    """``/healthz`` and ``/readyz``."""

    status: Literal["ok", "ready"]
