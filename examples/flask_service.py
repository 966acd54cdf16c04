"""A Flask service whose every view needs a paid Paycheck token.

Run it next to a payment server (``paycheck-server``)::

    flask --app flask_service run --port 8003

It sells the demo catalog's "Online marketplace": ``getInfo``, ``search`` and ``placeOrder``.
The payment server is read from ``PAYCHECK_SERVER_URL`` (default ``http://127.0.0.1:8000``).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request

from paycheck_integrations.flask import Paycheck, current_grant

SERVICE = "Online marketplace"
SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")

app = Flask(__name__)
# The one line: every view below now needs "Authorization: Bearer <token>" for its endpoint.
paycheck = Paycheck(app, service=SERVICE, server_url=SERVER_URL)

ITEMS = {1: "kettle", 2: "teapot", 3: "mug"}  # item id -> name


# The endpoint's name is the method name that the token must have been bought for.
@app.get("/getInfo", endpoint="getInfo")
def get_info() -> dict[str, Any]:
    """The shop's summary; the grant says until when the caller has paid."""
    return {"service": SERVICE, "items": len(ITEMS), "paidUntil": str(current_grant.paid_until)}


@app.get("/search", endpoint="search")
def search() -> dict[str, Any]:
    """Items whose name contains the ``q`` query parameter."""
    query = request.args.get("q", "").lower()
    return {"results": [{"id": id_, "name": name} for id_, name in ITEMS.items() if query in name]}


@app.post("/placeOrder", endpoint="placeOrder")
def place_order() -> dict[str, Any]:
    """Order an item (nothing is shipped: this is an example)."""
    return {"ordered": request.args.get("item_id", 1, type=int), "status": "accepted"}
