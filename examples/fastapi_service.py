"""A FastAPI service whose every route needs a paid Paycheck token.

Run it next to a payment server (``paycheck-server``)::

    uvicorn fastapi_service:app --port 8001

It sells the demo catalog's "Online marketplace": ``getInfo``, ``search`` and ``placeOrder``.
The payment server is read from ``PAYCHECK_SERVER_URL`` (default ``http://127.0.0.1:8000``).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request

from paycheck_integrations.asgi import PaycheckMiddleware

SERVICE = "Online marketplace"
SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")

app = FastAPI(title=SERVICE)
# The one line: every route below now needs "Authorization: Bearer <token>" for its name
# (the interactive docs stay open).
app.add_middleware(
    PaycheckMiddleware,
    service=SERVICE,
    server_url=SERVER_URL,
    exclude_paths=["/docs*", "/openapi.json"],
)

ITEMS = {1: "kettle", 2: "teapot", 3: "mug"}  # item id -> name


@app.get("/getInfo", name="getInfo")
async def get_info(request: Request) -> dict[str, Any]:
    """The shop's summary; the grant says until when the caller has paid."""
    grant = request.state.paycheck
    return {"service": SERVICE, "items": len(ITEMS), "paidUntil": str(grant.paid_until)}


@app.get("/search", name="search")
async def search(q: str = "") -> dict[str, Any]:
    """Items whose name contains ``q``."""
    return {
        "results": [{"id": id_, "name": name} for id_, name in ITEMS.items() if q.lower() in name]
    }


@app.post("/placeOrder", name="placeOrder")
async def place_order(item_id: int = 1) -> dict[str, Any]:
    """Order an item (nothing is shipped: this is an example)."""
    return {"ordered": item_id, "status": "accepted"}
