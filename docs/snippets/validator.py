"""Check tokens by hand in any service, with the cached, thread-safe TokenValidator."""

import os
from datetime import UTC, datetime

from paycheck_core import PaycheckClient, TokenValidator

SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")

# A client buys a token (see the client's guide) ...
today = datetime.now(UTC).date()
with PaycheckClient(SERVER_URL) as client:
    bill = client.create_bill("Online marketplace", today, today, ["getInfo"])
    token = client.pay(bill.payment_artifact).token

# ... and the service checks it on every request. Answers are cached (at most one hour), and the
# validator follows the server's token-event feed: a revoked token is refused within seconds.
with TokenValidator(SERVER_URL, "Online marketplace", negative_ttl=60) as validator:
    decision = validator.validate(token, "getInfo")
    print(decision.allowed, decision.paid_until)  # True and the last paid day

    decision = validator.validate(token, "placeOrder")  # not bought
    print(decision.allowed, decision.status, decision.reason)  # False 403 and why

    decision = validator.validate("garbage", "getInfo")  # denied without a network call
    print(decision.allowed, decision.status)  # False 401
