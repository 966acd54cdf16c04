"""What the SDK raises: one tree under PaycheckError; a denied check is a result."""

import os
from datetime import UTC, datetime

from paycheck_core import (
    NotFoundError,
    PaycheckClient,
    PaymentDeclinedError,
    PaymentServiceUnavailable,
)

SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")
today = datetime.now(UTC).date()

with PaycheckClient(SERVER_URL) as client:
    try:
        client.create_bill("No such service", today, today)
    except NotFoundError as exc:
        print(exc.status_code, exc.description)  # 404 and the server's sentence

    bill = client.create_bill("Weather", today, today)
    try:
        client.pay(bill.payment_artifact, card="4000000000000002")  # the sandbox's declined card
    except PaymentDeclinedError as exc:
        print(exc.status_code, exc.description)  # 402; nothing was charged, the bill stays unpaid

    try:
        payment = client.pay(bill.payment_artifact)
    except PaymentServiceUnavailable as exc:
        # The answer was lost, the payment may have gone through: the key the failed call sent
        # gets the first answer back, and never a second charge.
        payment = client.pay(bill.payment_artifact, idempotency_key=exc.idempotency_key)
    print(payment.message)

    decision = client.check_token("pct_not-a-real-token", "Weather", "getForecast")
    print(decision.allowed, decision.status)  # False 401: a result, not an exception

with PaycheckClient("http://127.0.0.1:9", timeout=2) as nowhere:  # nothing listens there
    try:
        nowhere.list_services()
    except PaymentServiceUnavailable as exc:
        print(exc)  # names the URL it tried and why it failed
