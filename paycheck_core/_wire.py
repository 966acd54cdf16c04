"""The wire format of the payment server, with no I/O.

Each API call is described by a :class:`Call`: how to build the request (method, path, JSON
body, headers) and how to turn the response into a result. The sync and async clients only
send calls; everything about the contract (camelCase names, dates, money, status codes) lives
here, so both clients behave the same and the logic is tested without a network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

import httpx

from ._exceptions import (
    APIError,
    BadRequestError,
    NotFoundError,
    PaymentDeclinedError,
    PaymentServiceUnavailable,
)
from ._models import AccessDecision, Bill, Method, Payment, PaymentInfo, PricedMethod, Service
from .tokens import generate_idempotency_key, idempotency_key_problem

T = TypeVar("T")

IDEMPOTENCY_KEY = "Idempotency-Key"

_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    402: PaymentDeclinedError,
    404: NotFoundError,
}
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
# A calendar day, alone or at the head of an ISO date-time.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T|\Z)")
VALID_FOR_HEADER = "Paycheck-Valid-For"
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


class ContractError(ValueError):
    """A response body that does not follow the contract."""


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call: the request to send and the parser of its response."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    headers: Mapping[str, str] | None = None

    @property
    def idempotency_key(self) -> str | None:
        """The ``Idempotency-Key`` the call sends, if any."""
        return None if self.headers is None else self.headers.get(IDEMPOTENCY_KEY)


# --- values ----------------------------------------------------------------------------------


def money_to_wire(amount: Decimal) -> float:
    """A 2-decimal JSON number for ``amount``."""
    return float(amount.quantize(Decimal("0.01")))


def money_from_wire(value: object, field: str) -> Decimal:
    """Parse a JSON number as money with two decimal places."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ContractError(f"{field} must be a number, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ContractError(f"{field} must be a number, got {value!r}") from exc
    if not amount.is_finite():
        raise ContractError(f"{field} must be a finite number, got {value!r}")
    return amount.quantize(Decimal("0.01"))


def date_to_wire(value: object, name: str) -> str:
    """The ISO ``YYYY-MM-DD`` form of a calendar day given by the caller.

    Raises:
        TypeError: ``value`` is not a :class:`~datetime.date`; a ``datetime`` is refused too,
            since its ISO form carries a time the contract's ``format: date`` does not accept.
    """
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime.date, not {type(value).__name__}")
    return value.isoformat()


def date_from_wire(value: object, field: str) -> date:
    """Parse an ISO ``YYYY-MM-DD`` date (a date-time is read as its calendar day)."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ContractError(f"{field} must be a YYYY-MM-DD date, got {value!r}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ContractError(f"{field} must be a YYYY-MM-DD date, got {value!r}") from exc


def _optional_date(body: Mapping[str, Any], name: str) -> date | None:
    value = body.get(name)
    return None if value is None else date_from_wire(value, name)


def _optional_datetime(body: Mapping[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContractError(f"{name} must be a date-time string, got {value!r}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ContractError(f"{name} must be an ISO 8601 date-time, got {value!r}") from exc


def _string(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ContractError(f"{name} must be a string, got {value!r}")
    return value


def _optional_string(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise ContractError(f"{name} must be a string, got {value!r}")
    return str(value)


def _list(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if not isinstance(value, list):
        raise ContractError(f"{name} must be a list, got {value!r}")
    return value


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ContractError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def max_age(response: httpx.Response) -> int | None:
    """The ``Cache-Control`` max-age of ``response`` in seconds (0 for no-store/no-cache)."""
    header = response.headers.get("cache-control")
    if not header:
        return None
    if _NO_CACHE.search(header):
        return 0
    match = _MAX_AGE.search(header)
    return int(match.group(1)) if match else None


def valid_for(response: httpx.Response) -> int | None:
    """The ``Paycheck-Valid-For`` seconds of an allowed check, or ``None`` if absent or garbled.

    The seconds until the end of the token's paid period (or of its grace after a reset), which
    the server's max-age may cut shorter for validators that do not follow the token-event feed.
    """
    header = response.headers.get(VALID_FOR_HEADER, "").strip()
    return int(header) if header.isascii() and header.isdigit() else None


# --- errors ----------------------------------------------------------------------------------


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise ContractError(f"the body is not JSON ({_preview(response)})") from exc


def _preview(response: httpx.Response) -> str:
    content_type = response.headers.get("content-type", "no content type")
    return f"{content_type}, {len(response.content)} bytes"


def _describe(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("description"), str):
        return str(body["description"])
    return response.reason_phrase or f"HTTP {response.status_code}"


def error_for(response: httpx.Response) -> APIError | PaymentServiceUnavailable:
    """The exception that an unsuccessful ``response`` stands for."""
    status = response.status_code
    if status >= 500:
        return PaymentServiceUnavailable(
            f"the payment server failed with {status}: {_describe(response)}", status_code=status
        )
    if status < 400:
        # A redirect (often a proxy sending http:// to https://) or a 2xx other than the
        # contract's 200: the server did not answer the call, it did not refuse it.
        location = response.headers.get("location")
        where = f" to {location}" if location else ""
        return PaymentServiceUnavailable(
            f"{response.request.method} {response.request.url.path} answered {status}{where} "
            f"instead of the contract's 200; check the payment server's base_url",
            status_code=status,
        )
    error_class = _ERRORS.get(status, APIError)
    return error_class(_describe(response), status_code=status)


def _checked(response: httpx.Response, parse: Callable[[Any], T]) -> T:
    if response.status_code != 200:
        raise error_for(response)
    try:
        return parse(_json(response))
    except ContractError as exc:
        raise PaymentServiceUnavailable(
            f"{response.request.method} {response.request.url.path} answered with a body that "
            f"is not the contract's: {exc}",
            status_code=response.status_code,
        ) from exc


# --- calls -----------------------------------------------------------------------------------


def _parse_services(body: Any) -> list[Service]:
    items = _list(_object(body, "the catalog"), "services")
    services = []
    for item in items:
        service = _object(item, "a service")
        currency = _string(service, "currency")
        methods = tuple(
            Method(
                name=_string(m, "methodName"),
                price_per_day=money_from_wire(m.get("pricePerDay"), "pricePerDay"),
            )
            for m in (_object(raw, "a method") for raw in _list(service, "methods"))
        )
        services.append(Service(_string(service, "serviceName"), methods, currency))
    return services


def list_services() -> Call[list[Service]]:
    """``GET /services``: the catalog with prices per day."""
    return Call("GET", "/services", lambda r: _checked(r, _parse_services))


def _parse_bill(body: Any) -> Bill:
    body = _object(body, "the bill")
    lines = body.get("methods") or []
    if not isinstance(lines, list):
        raise ContractError(f"methods must be a list, got {lines!r}")
    methods = tuple(
        PricedMethod(_string(m, "methodName"), money_from_wire(m.get("price"), "price"))
        for m in (_object(raw, "a bill line") for raw in lines)
    )
    return Bill(
        service=_string(body, "serviceName"),
        date_from=date_from_wire(body.get("dateFrom"), "dateFrom"),
        date_to=date_from_wire(body.get("dateTo"), "dateTo"),
        methods=methods,
        total_price=money_from_wire(body.get("totalPrice"), "totalPrice"),
        payment_artifact=_string(body, "paymentArtifact"),
        bill_id=_optional_string(body, "billId"),
        currency=_optional_string(body, "currency"),
        expires_at=_optional_datetime(body, "expiresAt"),
        status=_optional_string(body, "status"),
    )


def create_bill(
    service: str,
    date_from: date,
    date_to: date,
    methods: Sequence[str] | None,
    idempotency_key: str | None,
) -> Call[Bill]:
    """``POST /bill``."""
    if isinstance(methods, str):
        raise TypeError("methods must be a list of method names, not a single string")
    payload: dict[str, Any] = {
        "serviceName": service,
        "dateFrom": date_to_wire(date_from, "date_from"),
        "dateTo": date_to_wire(date_to, "date_to"),
    }
    if methods is not None:
        payload["methods"] = list(methods)
    return Call(
        "POST",
        "/bill",
        lambda r: _checked(r, _parse_bill),
        json=payload,
        headers=_idempotency(idempotency_key),
    )


def _parse_payment(body: Any) -> Payment:
    body = _object(body, "the payment")
    message = _string(body, "message")
    status = _optional_string(body, "status")
    return Payment(
        message=message,
        token=_string(body, "token"),
        bill_id=_optional_string(body, "billId"),
        status=status,
        paid_until=_optional_date(body, "paidUntil"),
        already_paid=_already_paid(body, message),
    )


def _already_paid(body: Mapping[str, Any], message: str) -> bool:
    value = body.get("alreadyPaid")
    if value is None:
        # A seed-contract server says so only in words ("Payment already processed").
        return "already" in message.lower()
    if not isinstance(value, bool):
        raise ContractError(f"alreadyPaid must be a boolean, got {value!r}")
    return value


def pay(payment_artifact: str, card: str | None, idempotency_key: str | None) -> Call[Payment]:
    """``POST /pay``."""
    payload: dict[str, Any] = {"paymentArtifact": payment_artifact}
    if card is not None:
        payload["card"] = card
    return Call(
        "POST",
        "/pay",
        lambda r: _checked(r, _parse_payment),
        json=payload,
        headers=_idempotency(idempotency_key),
    )


def _parse_payment_info(body: Any) -> PaymentInfo:
    body = _object(body, "the payment info")
    methods = _list(body, "methods")
    if not all(isinstance(m, str) for m in methods):
        raise ContractError(f"methods must be a list of strings, got {methods!r}")
    return PaymentInfo(
        paid_until=date_from_wire(body.get("paidUntil"), "paidUntil"),
        service=_string(body, "availableService"),
        methods=tuple(methods),
        date_from=_optional_date(body, "dateFrom"),
        bill_id=_optional_string(body, "billId"),
        status=_optional_string(body, "status"),
    )


def payment_info(payment_artifact: str) -> Call[PaymentInfo]:
    """``POST /payment/info``."""
    return Call(
        "POST",
        "/payment/info",
        lambda r: _checked(r, _parse_payment_info),
        json={"paymentArtifact": payment_artifact},
    )


def reset_token(payment_artifact: str) -> Call[str]:
    """``POST /token/reset``: the new token."""
    return Call(
        "POST",
        "/token/reset",
        lambda r: _checked(r, lambda body: _string(_object(body, "the token"), "token")),
        json={"paymentArtifact": payment_artifact},
    )


def check_token(token: str, service: str, method: str) -> Call[AccessDecision]:
    """``POST /token/check``: 200 allows, 401 and 403 deny, anything else is an exception.

    A 200 must name the service and method that were asked (``serviceName``, ``methodName``,
    compared exactly): an answer about anything else is not the contract's, and raises
    :class:`~paycheck_core.PaymentServiceUnavailable` like any other unusable body.
    """

    def parse(response: httpx.Response) -> AccessDecision:
        status = response.status_code
        if status in (401, 403):
            return AccessDecision(
                allowed=False,
                status=status,
                service=service,
                method=method,
                reason=_describe(response),
                max_age=max_age(response),
            )

        def allowed(body: Any) -> AccessDecision:
            body = _object(body, "the check")
            granted = body.get("allowed")
            if not isinstance(granted, bool):
                raise ContractError(f"allowed must be a boolean, got {granted!r}")
            # An answer about another service or method is not an answer to this question,
            # whether it allows or denies: a confused proxy or server must never grant (or
            # get cached as) access to what was asked. Compared exactly, as the server keys
            # on exact names.
            for field, asked in (("serviceName", service), ("methodName", method)):
                answered = _string(body, field)
                if answered != asked:
                    raise ContractError(
                        f"{field} {answered!r} is not the {field} that was asked, {asked!r}"
                    )
            message = body.get("message")
            return AccessDecision(
                allowed=granted,
                # A seed-contract server may answer 200 with allowed=false: a denial of scope.
                status=200 if granted else 403,
                service=service,
                method=method,
                paid_until=_optional_date(body, "paidUntil"),
                reason=message if isinstance(message, str) else None,
                max_age=max_age(response),
                valid_for=valid_for(response) if granted else None,
            )

        return _checked(response, allowed)

    return Call(
        "POST",
        "/token/check",
        parse,
        json={"token": token, "serviceName": service, "methodName": method},
    )


def _idempotency(key: str | None) -> dict[str, str]:
    # Without a key of the caller's, a new random one: a retry with the key that the
    # failure names (PaymentServiceUnavailable.idempotency_key) cannot bill or charge twice.
    if key is None:
        return {IDEMPOTENCY_KEY: generate_idempotency_key()}
    problem = idempotency_key_problem(key)
    if problem is not None:
        raise ValueError(f"idempotency_key {problem}")
    return {IDEMPOTENCY_KEY: key}
