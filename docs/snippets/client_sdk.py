"""Buy access with the SDK: the catalog, a bill, the payment, the token, a reset."""

import os
from datetime import UTC, datetime

from paycheck_core import PaycheckClient

SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")
today = datetime.now(UTC).date()  # the server counts whole UTC days

with PaycheckClient(SERVER_URL) as client:
    for service in client.list_services():
        print(service.name, [(m.name, m.price_per_day) for m in service.methods], service.currency)

    bill = client.create_bill("Online marketplace", today, today, ["getInfo", "search"])
    print(f"total: {bill.total_price} {bill.currency}")
    artifact = bill.payment_artifact  # shown only once: keep it secret and safe

    payment = client.pay(artifact)
    token = payment.token  # send it as "Authorization: Bearer <token>"

    info = client.payment_info(artifact)
    print(f"{info.service}: {', '.join(info.methods)} until {info.paid_until}")

    decision = client.check_token(token, "Online marketplace", "getInfo")
    print("allowed" if decision.allowed else f"denied ({decision.status})")

    # A new token; the previous one keeps working for a grace period, then stops.
    token = client.reset_token(artifact)
