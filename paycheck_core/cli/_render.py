"""How ``paycheck`` shows results: a JSON document for scripts, rich text for people. No I/O.

The JSON documents are stable: every key is always present (``null`` when the server did not
say), names follow the wire contract's camelCase, money is a number with two decimals and dates
are ``YYYY-MM-DD``. Secrets appear only in the documents whose purpose is to show them: the bill
carries its payment artifact, ``pay`` and ``reset`` carry the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from rich.console import RenderableType
from rich.table import Column, Table
from rich.text import Text

from .._exceptions import APIError, PaycheckError, PaymentDeclinedError, PaymentServiceUnavailable
from .._models import AccessDecision, Bill, Payment, PaymentInfo, Service
from .._wire import money_to_wire

__all__ = [
    "bill_document",
    "bill_view",
    "decision_document",
    "decision_view",
    "describe_failure",
    "info_document",
    "info_view",
    "payment_document",
    "payment_view",
    "reset_document",
    "reset_view",
    "services_document",
    "services_view",
]

Document = dict[str, Any]

SHOWN_ONCE = (
    "This payment artifact is shown only once and cannot be recovered. Keep it secret: it pays "
    "the bill, shows the payment and resets the token."
)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _money(amount: Decimal, currency: str | None = None) -> str:
    text = f"{amount:,.2f}"
    return f"{text} {currency}" if currency else text


# --- services --------------------------------------------------------------------------------


def services_document(services: Sequence[Service]) -> Document:
    """The catalog: ``{"services": [{"serviceName", "currency", "methods": [...]}]}``.

    Each method is ``{"methodName", "pricePerDay"}``.
    """
    return {
        "services": [
            {
                "serviceName": service.name,
                "currency": service.currency,
                "methods": [
                    {"methodName": m.name, "pricePerDay": money_to_wire(m.price_per_day)}
                    for m in service.methods
                ],
            }
            for service in services
        ]
    }


def services_view(services: Sequence[Service]) -> list[RenderableType]:
    """The catalog as one table: service, method, price per day, currency."""
    if not services:
        return [Text("The catalog is empty: the payment server sells nothing yet.")]
    table = Table("Service", "Method", Column("Price per day", justify="right"), "Currency")
    for service in services:
        for index, method in enumerate(service.methods):
            name = service.name if index == 0 else ""
            table.add_row(name, method.name, _money(method.price_per_day), service.currency)
        if not service.methods:
            table.add_row(service.name, Text("(nothing for sale)", style="dim"), "", "")
    return [table]


# --- bill ------------------------------------------------------------------------------------


def bill_document(bill: Bill, *, saved_to: str | None) -> Document:
    """The bill; ``paymentArtifact`` is ``null`` when it went to ``saved_to`` instead."""
    return {
        "serviceName": bill.service,
        "dateFrom": _day(bill.date_from),
        "dateTo": _day(bill.date_to),
        "methods": [
            {"methodName": line.name, "price": money_to_wire(line.price)} for line in bill.methods
        ],
        "totalPrice": money_to_wire(bill.total_price),
        "currency": bill.currency,
        "billId": bill.bill_id,
        "status": bill.status,
        "expiresAt": None if bill.expires_at is None else bill.expires_at.isoformat(),
        "paymentArtifact": None if saved_to is not None else bill.payment_artifact,
        "savedTo": saved_to,
    }


def bill_view(bill: Bill, *, saved_to: str | None) -> list[RenderableType]:
    """The bill's lines and total, then the artifact (or where it was saved) and the warning."""
    days = bill.date_to.toordinal() - bill.date_from.toordinal() + 1
    lines: list[RenderableType] = [
        Text.assemble(
            ("Bill for ", ""),
            (bill.service, "bold"),
            f": {bill.date_from} to {bill.date_to} ({days} day{'s' if days != 1 else ''})",
        )
    ]
    if bill.methods:
        table = Table("Method", Column("Price", justify="right"), box=None, padding=(0, 2))
        for line in bill.methods:
            table.add_row(line.name, _money(line.price))
        lines.append(table)
    lines.append(Text.assemble(("Total: ", "bold"), (_money(bill.total_price, bill.currency), "")))
    if bill.expires_at is not None:
        lines.append(Text(f"Pay before {bill.expires_at:%Y-%m-%d %H:%M %Z}".rstrip()))
    if saved_to is not None:
        lines.append(Text(f"Payment artifact saved to {saved_to} (readable by you only)."))
        lines.append(Text(SHOWN_ONCE, style="yellow"))
        lines.append(Text(f"Next: paycheck pay --artifact-file {saved_to}"))
    else:
        lines.append(Text(SHOWN_ONCE, style="yellow"))
        lines.append(Text("Payment artifact:", style="bold"))
        lines.append(Text(bill.payment_artifact))
        lines.append(Text("Next: paycheck pay ARTIFACT (or - to read it from stdin)"))
    return lines


# --- pay, info, reset ------------------------------------------------------------------------


def payment_document(payment: Payment) -> Document:
    """The payment with its access token."""
    return {
        "message": payment.message,
        "alreadyPaid": payment.already_paid,
        "billId": payment.bill_id,
        "status": payment.status,
        "paidUntil": _day(payment.paid_until),
        "token": payment.token,
    }


def payment_view(payment: Payment) -> list[RenderableType]:
    """What happened, then the token and how to send it."""
    if payment.already_paid:
        headline = Text("The bill was already paid: nothing was charged; here is a new token.")
    else:
        headline = Text.assemble(("Paid. ", "bold green"), payment.message)
    lines: list[RenderableType] = [headline]
    if payment.paid_until is not None:
        lines.append(Text(f"Access paid until {payment.paid_until} (UTC, inclusive)."))
    lines.extend(_token_lines(payment.token))
    return lines


def info_document(info: PaymentInfo) -> Document:
    """What a paid bill gives access to, and when."""
    return {
        "availableService": info.service,
        "methods": list(info.methods),
        "dateFrom": _day(info.date_from),
        "paidUntil": _day(info.paid_until),
        "billId": info.bill_id,
        "status": info.status,
    }


def info_view(info: PaymentInfo) -> list[RenderableType]:
    """The payment as a two-column grid."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Service", info.service)
    grid.add_row("Methods", ", ".join(info.methods) or "(none)")
    if info.date_from is not None:
        grid.add_row("Paid from", info.date_from.isoformat())
    grid.add_row("Paid until", f"{info.paid_until} (UTC, inclusive)")
    if info.bill_id is not None:
        grid.add_row("Bill", info.bill_id + (f" ({info.status})" if info.status else ""))
    return [grid]


def reset_document(token: str) -> Document:
    """The new token."""
    return {"token": token}


def reset_view(token: str) -> list[RenderableType]:
    """The new token and what happens to the previous one."""
    return [
        Text(
            "New access token issued. The previous token keeps working for a short grace "
            "period, then stops."
        ),
        *_token_lines(token),
    ]


def _token_lines(token: str) -> list[RenderableType]:
    return [
        Text(
            "Access token (keep it secret; send it as 'Authorization: Bearer TOKEN'):", style="bold"
        ),
        Text(token),
    ]


# --- check -----------------------------------------------------------------------------------


def decision_document(decision: AccessDecision) -> Document:
    """The access decision; never the token that was checked."""
    return {
        "allowed": decision.allowed,
        "status": decision.status,
        "serviceName": decision.service,
        "methodName": decision.method,
        "paidUntil": _day(decision.paid_until),
        "reason": decision.reason,
        "maxAge": decision.max_age,
    }


def decision_view(decision: AccessDecision) -> list[RenderableType]:
    """One line: allowed until when, or denied and why."""
    target = f"{decision.method} of {decision.service}"
    if decision.allowed:
        until = f" until {decision.paid_until}" if decision.paid_until is not None else ""
        return [
            Text.assemble(("allowed", "bold green"), f": the token gives access to {target}{until}")
        ]
    reason = f": {decision.reason}" if decision.reason else ""
    return [Text.assemble(("denied", "bold red"), f" ({decision.status}) for {target}{reason}")]


# --- failures --------------------------------------------------------------------------------


def describe_failure(exc: PaycheckError, *, server: str, command: str) -> str:
    """One line a person can act on for an SDK exception raised by ``paycheck COMMAND``."""
    if isinstance(exc, PaymentServiceUnavailable):
        retry = ""
        if exc.idempotency_key is not None:
            # The request may have been carried out: the same key answers it again.
            done = "a bill" if command == "bill" else "a payment"
            retry = (
                f". {done.capitalize()} may have been made: retry with --idempotency-key "
                f"{exc.idempotency_key} to get its answer, never {done} twice"
            )
        if exc.status_code is None:
            return (
                f"{exc}. Is paycheck-server running there? Point to another server with "
                f"--server URL or PAYCHECK_SERVER_URL{retry}"
            )
        if exc.status_code >= 500:
            return f"{server}: {exc}; try again later{retry}"
        return f"{server}: {exc}; is --server a Paycheck payment server?{retry}"
    if isinstance(exc, PaymentDeclinedError):
        return f"payment declined: {exc.description} (HTTP 402); nothing was charged"
    if isinstance(exc, APIError):
        hint = ""
        if exc.status_code == 404 and command == "bill":
            hint = "; 'paycheck services' lists what is for sale"
        return f"{exc.description} (HTTP {exc.status_code}){hint}"
    return str(exc)
