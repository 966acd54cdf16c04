"""The FastAPI dependency beyond the shared rules: names, the grant, OpenAPI, websockets."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse

from paycheck_core import AccessDecision
from paycheck_integrations.fastapi import Paycheck

from .conftest import FakePaymentServer, bearer


async def get(app: FastAPI, path: str, token: str | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    headers = bearer(token) if token is not None else []
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        return await client.get(path, headers=headers)


def paycheck_for(payments: FakePaymentServer) -> Paycheck:
    return Paycheck(validator=payments.async_validator())


async def test_the_dependency_returns_the_grant_to_the_handler(
    payments: FakePaymentServer,
) -> None:
    paycheck = paycheck_for(payments)
    app = FastAPI()

    @app.get("/info")
    async def info(grant: AccessDecision = Depends(paycheck.require("getInfo"))) -> Any:  # noqa: B008 - FastAPI's idiom; Annotated cannot see this test's local paycheck
        return {"method": grant.method, "paidUntil": grant.paid_until}

    response = await get(app, "/info", payments.sell("getInfo"))

    assert response.json() == {"method": "getInfo", "paidUntil": "2026-12-31"}


async def test_without_a_name_the_method_is_the_routes_name(payments: FakePaymentServer) -> None:
    paycheck = paycheck_for(payments)
    router = APIRouter(dependencies=[Depends(paycheck.require())])

    @router.get("/v1/info", name="getInfo")
    async def whatever(request: Request) -> Any:
        return {"method": request.state.paycheck.method}

    app = FastAPI()
    app.include_router(router)

    response = await get(app, "/v1/info", payments.sell("getInfo"))

    assert response.json() == {"method": "getInfo"}


async def test_an_explicit_name_wins_over_the_route_name(payments: FakePaymentServer) -> None:
    paycheck = paycheck_for(payments)
    app = FastAPI()

    @app.get("/items/{item_id}", dependencies=[Depends(paycheck.require("getItem"))])
    async def read_item(item_id: int) -> Any:
        return {"id": item_id}

    response = await get(app, "/items/3", payments.sell("getItem"))

    assert response.json() == {"id": 3}
    assert payments.checks[0]["methodName"] == "getItem"


async def test_a_refusal_keeps_its_body_when_the_app_handles_http_exceptions(
    payments: FakePaymentServer,
) -> None:
    paycheck = paycheck_for(payments)
    app = FastAPI()

    @app.exception_handler(HTTPException)
    async def teapot(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": "the app's own"}, status_code=418)

    @app.get("/getInfo", dependencies=[Depends(paycheck.require())])
    async def getInfo() -> Any:  # noqa: N802 - the method's name
        return {}

    response = await get(app, "/getInfo")

    assert response.status_code == 401
    assert response.json() == {"description": response.json()["description"]}
    assert response.headers["www-authenticate"] == 'Bearer realm="Online marketplace"'


def test_openapi_shows_the_bearer_scheme_on_protected_routes(payments: FakePaymentServer) -> None:
    paycheck = paycheck_for(payments)
    app = FastAPI()

    @app.get("/getInfo", dependencies=[Depends(paycheck.require())])
    async def getInfo() -> Any:  # noqa: N802 - the method's name
        return {}

    @app.get("/health")
    async def health() -> Any:
        return {}

    schema = app.openapi()

    assert schema["components"]["securitySchemes"]["PaycheckToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "pct_...",
        "description": "A paid Paycheck access token for Online marketplace.",
    }
    assert schema["paths"]["/getInfo"]["get"]["security"] == [{"PaycheckToken": []}]
    assert "security" not in schema["paths"]["/health"]["get"]


async def test_an_exempt_request_gets_no_grant(payments: FakePaymentServer) -> None:
    paycheck = Paycheck(validator=payments.async_validator(), exclude_paths=["/public"])
    app = FastAPI()

    @app.get("/public")
    async def public(grant: AccessDecision | None = Depends(paycheck.require())) -> Any:  # noqa: B008 - as above
        return {"grant": grant}

    response = await get(app, "/public")

    assert response.json() == {"grant": None}


async def test_a_websocket_route_without_a_token_is_closed_with_1008(
    payments: FakePaymentServer,
) -> None:
    paycheck = paycheck_for(payments)
    app = FastAPI()

    @app.websocket("/stream", dependencies=[Depends(paycheck.require("getStream"))])
    async def stream(websocket: WebSocket) -> None:  # pragma: no cover - refused before
        await websocket.accept()

    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/stream",
        "raw_path": b"/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "scheme": "ws",
        "server": ("service.test", 80),
        "subprotocols": [],
    }
    await app(scope, receive, send)

    assert [(m["type"], m.get("code")) for m in sent] == [("websocket.close", 1008)]


async def test_a_websocket_route_with_a_paid_token_is_accepted_with_its_grant(
    payments: FakePaymentServer,
) -> None:
    paycheck = paycheck_for(payments)
    app = FastAPI()

    @app.websocket("/stream")
    async def stream(
        websocket: WebSocket,
        grant: AccessDecision = Depends(paycheck.require("getStream")),  # noqa: B008 - as above
    ) -> None:
        await websocket.accept()
        await websocket.send_text(f"{grant.method} {websocket.state.paycheck.method}")
        await websocket.close()

    token = payments.sell("getStream")
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/stream",
        "raw_path": b"/stream",
        "root_path": "",
        "query_string": b"",
        "headers": bearer(token),
        "scheme": "ws",
        "server": ("service.test", 80),
        "subprotocols": [],
    }
    await app(scope, receive, send)

    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "getStream getStream"


async def test_a_services_tests_can_override_the_dependency(payments: FakePaymentServer) -> None:
    paycheck = paycheck_for(payments)
    require_info = paycheck.require("getInfo")
    app = FastAPI()

    @app.get("/info")
    async def info(grant: AccessDecision = Depends(require_info)) -> Any:  # noqa: B008 - as above
        return {"method": grant.method}

    app.dependency_overrides[require_info] = lambda: AccessDecision(
        allowed=True, status=200, service="Online marketplace", method="stubbed"
    )

    response = await get(app, "/info")

    assert response.json() == {"method": "stubbed"}
    assert payments.calls == 0


def test_openapi_names_the_scheme_once_for_several_required_methods(
    payments: FakePaymentServer,
) -> None:
    paycheck = paycheck_for(payments)
    router = APIRouter(dependencies=[Depends(paycheck.require())])

    @router.get("/items", dependencies=[Depends(paycheck.require("listItems"))])
    async def items() -> Any:
        return []

    app = FastAPI()
    app.include_router(router)

    schema = app.openapi()

    assert list(schema["components"]["securitySchemes"]) == ["PaycheckToken"]
    assert schema["paths"]["/items"]["get"]["security"] == [{"PaycheckToken": []}]
