"""shop.py: the service under test, a Starlette app whose every route needs a paid token."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from paycheck_core import AsyncTokenValidator
from paycheck_integrations.asgi import PaycheckMiddleware

SERVICE = "Online marketplace"


async def get_info(request: Request) -> JSONResponse:
    return JSONResponse({"paidUntil": str(request.state.paycheck.paid_until)})


async def place_order(request: Request) -> JSONResponse:
    return JSONResponse({"status": "accepted"})


def create_app(
    *, server_url: str | None = None, validator: AsyncTokenValidator | None = None
) -> Starlette:
    """The app; it checks tokens with the payment server at ``server_url`` or with ``validator``."""
    app = Starlette(
        routes=[
            Route("/getInfo", get_info, name="getInfo"),
            Route("/placeOrder", place_order, methods=["POST"], name="placeOrder"),
        ]
    )
    app.add_middleware(
        PaycheckMiddleware, service=SERVICE, server_url=server_url, validator=validator
    )
    return app
