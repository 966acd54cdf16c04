"""Response bodies as plain functions of the stored state (camelCase, money as numbers)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from ..access import Decision
from ..catalog import Catalog
from ..domain import minor_to_wire
from ..store import PayResult, StoredBill

__all__ = ["bill_body", "check_body", "pay_body", "payment_info_body", "services_body"]

PAID = "Payment succeeded"
ALREADY_PAID = "Payment already processed"


def services_body(catalog: Catalog, currency: str) -> dict[str, Any]:
    """``GET /services``."""
    return {
        "services": [
            {
                "serviceName": service.name,
                "currency": currency,
                "methods": [
                    {
                        "methodName": method.name,
                        "pricePerDay": minor_to_wire(method.price_per_day_minor),
                    }
                    for method in service.methods_for_sale
                ],
            }
            for service in catalog.services
            if service.methods_for_sale
        ]
    }


def bill_body(bill: StoredBill) -> dict[str, Any]:
    """``POST /bill`` without ``paymentArtifact`` (added by the caller, never stored)."""
    return {
        "serviceName": bill.service,
        "methods": [
            {"methodName": line.method, "price": minor_to_wire(line.price_minor)}
            for line in bill.lines
        ],
        "dateFrom": bill.period.date_from.isoformat(),
        "dateTo": bill.period.date_to.isoformat(),
        "totalPrice": minor_to_wire(bill.total_minor),
        "billId": bill.id,
        "currency": bill.currency,
        "expiresAt": bill.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "status": bill.status,
    }


def pay_body(result: PayResult) -> dict[str, Any]:
    """``POST /pay`` without ``token``."""
    return {
        "message": PAID if result.charged else ALREADY_PAID,
        "billId": result.bill.id,
        "status": "paid",
        "paidUntil": result.bill.period.date_to.isoformat(),
        "alreadyPaid": not result.charged,
    }


def payment_info_body(bill: StoredBill) -> dict[str, Any]:
    """``POST /payment/info``."""
    return {
        "paidUntil": bill.period.date_to.isoformat(),
        "availableService": bill.service,
        "methods": [line.method for line in bill.lines],
        "dateFrom": bill.period.date_from.isoformat(),
        "billId": bill.id,
        "status": bill.status,
    }


def check_body(decision: Decision, service: str, method: str) -> dict[str, Any]:
    """``POST /token/check``: the 200 body, or ``{"description"}`` for a denial."""
    if not decision.allowed:
        return {"description": decision.description}
    assert decision.paid_until is not None  # an allowed decision always has its period
    return {
        "allowed": True,
        "serviceName": service,
        "methodName": method,
        "paidUntil": decision.paid_until.isoformat(),
        "message": decision.description,
    }
