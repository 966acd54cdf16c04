"""A Starlette service whose every route needs a paid Paycheck token.

Run it next to a payment server (``paycheck-server``)::

    uvicorn starlette_service:app --port 8002

It sells the demo catalog's "Online marketplace": ``getInfo``, ``search`` and ``placeOrder``.
The payment server is read from ``PAYCHECK_SERVER_URL`` (default ``http://127.0.0.1:8000``).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from paycheck_integrations.asgi import PaycheckMiddleware

SERVICE = "Online marketplace"
SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")

ITEMS = {1: "kettle", 2: "teapot", 3: "mug"}  # item id -> name


async def get_info(request: Request) -> JSONResponse:
    """The shop's summary; the grant says until when the caller has paid."""
    grant = request.state.paycheck
    return JSONResponse(
        {"service": SERVICE, "items": len(ITEMS), "paidUntil": str(grant.paid_until)}
    )


async def search(request: Request) -> JSONResponse:
    """Items whose name contains the ``q`` query parameter."""
    query = request.query_params.get("q", "").lower()
    return JSONResponse(
        {"results": [{"id": id_, "name": name} for id_, name in ITEMS.items() if query in name]}
    )


async def place_order(request: Request) -> JSONResponse:
    """Order an item (nothing is shipped: this is an example)."""
    return JSONResponse(
        {"ordered": int(request.query_params.get("item_id", "1")), "status": "accepted"}
    )


app = Starlette(
    routes=[
        # The route's name is the method name that the token must have been bought for.
        Route("/getInfo", get_info, name="getInfo"),
        Route("/search", search, name="search"),
        Route("/placeOrder", place_order, methods=["POST"], name="placeOrder"),
    ],
)
# The one line: every route above now needs "Authorization: Bearer <token>" for its name.
app.add_middleware(PaycheckMiddleware, service=SERVICE, server_url=SERVER_URL)
