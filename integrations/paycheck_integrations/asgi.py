"""Bearer-token validation for any ASGI app: Starlette, FastAPI or plain ASGI.

One line protects every route::

    from paycheck_integrations.asgi import PaycheckMiddleware

    app.add_middleware(
        PaycheckMiddleware, service="Online marketplace", server_url="http://payments:8000"
    )

or, for a plain ASGI callable, ``app = PaycheckMiddleware(app, service=..., server_url=...)``.

Each request needs ``Authorization: Bearer <token>`` for the method it calls; the method's name
is the route's name (Starlette and FastAPI), else the path's last segment, unless ``methods=``
says otherwise. A granted request reaches the app with the grant (an
:class:`~paycheck_core.AccessDecision`) in ``scope["paycheck"]`` and ``request.state.paycheck``.
A refused one is answered here (RFC 6750 statuses, ``{"description": ...}`` body) and never
reaches the app; a refused websocket is closed with code 1008 (policy violation).
``lifespan`` passes through; once the app has started, the validator starts following the
payment server's token-event feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from paycheck_core import AsyncTokenValidator, PaycheckError

from ._common import (
    DEFAULT_RETRY_AFTER,
    Denial,
    Denials,
    Exemptions,
    MethodMap,
    MethodNames,
    asgi_authorization,
    bearer_token,
    configure,
)

try:
    from starlette.routing import Match
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:
    raise ImportError(
        'paycheck_integrations.asgi needs Starlette: pip install "paycheck-suite[asgi]"'
    ) from exc

__all__ = ["WEBSOCKET_POLICY_VIOLATION", "PaycheckMiddleware"]

WEBSOCKET_POLICY_VIOLATION = 1008
"""The close code of a refused websocket (RFC 6455: policy violation)."""


class PaycheckMiddleware:
    """Pure ASGI middleware that lets a request through only with a paid token.

    Args:
        app: the ASGI app to protect.
        service: this service's name in the payment server's catalog (taken from
            ``validator`` when omitted).
        server_url: the payment server's URL; the middleware then makes its own
            :class:`~paycheck_core.AsyncTokenValidator` (and closes it at lifespan shutdown).
        validator: a ready :class:`~paycheck_core.AsyncTokenValidator` instead of
            ``server_url`` (to choose its cache or its HTTP transport).
        follow: with ``server_url``, make a validator that follows the payment server's
            token-event feed (from lifespan startup, or the first request), so that a
            deactivated token is refused within seconds. A ready validator follows the feed
            as it was made.
        methods: path templates to method names (``{"/items/{id}": "getItem",
            "POST /items": "addItem"}``) or a callable ``(http_method, path) -> name | None``.
        exclude_paths: paths that need no token: exact (``"/health"``) or prefixes
            (``"/docs*"``). OPTIONS requests never need one (CORS preflight).
        retry_after: seconds a 503 (payment server unavailable) asks the client to wait.

    Raises:
        ValueError: neither or both of ``server_url`` and ``validator``, no ``service``, or
            another option out of range; the message says what to pass.

    Example::

        app = Starlette(routes=[Route("/getInfo", get_info)])
        app.add_middleware(
            PaycheckMiddleware,
            service="Online marketplace",
            server_url="http://payments:8000",
            exclude_paths=["/health", "/docs*"],
        )
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str | None = None,
        server_url: str | None = None,
        validator: AsyncTokenValidator | None = None,
        methods: MethodMap | None = None,
        exclude_paths: Sequence[str] = (),
        retry_after: int = DEFAULT_RETRY_AFTER,
        follow: bool = True,
    ) -> None:
        self.app = app
        self._owns_validator = validator is None
        self.service, self.validator = configure(
            service,
            server_url,
            validator,
            AsyncTokenValidator,
            partial(AsyncTokenValidator, follow=follow),
            follow=follow,
        )
        self._names = MethodNames(methods)
        self._remembered = self._names.lookup
        self._exempt = Exemptions(exclude_paths)
        self._denials = Denials(self.service, retry_after=retry_after)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            http_method = scope["method"]
        elif kind == "websocket":
            http_method = "GET"  # the handshake's method
        elif kind == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        else:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        # Only requests that need a token get a name, so a remembered name also says "not
        # exempt": the common request skips the exemption check.
        method = self._remembered((http_method, path))
        if method is None:
            if self._exempt(http_method, path):
                await self.app(scope, receive, send)
                return
            method = self._names.resolve(http_method, path, _route_name(scope))
        authorization = asgi_authorization(scope["headers"])
        # The usual header is looked up in the cache as it is: only tokens that passed the
        # checks below (or the validator's) are ever cached. A hit is answered without a
        # coroutine; anything else is parsed strictly.
        decision = (
            self.validator.cached(authorization[7:], method)
            if type(authorization) is str and authorization.startswith("Bearer ")
            else None
        )
        if decision is None:
            token = bearer_token(authorization)
            if not isinstance(token, str):
                await _deny(self._denials.for_problem(token), scope, receive, send)
                return
            try:
                decision = await self.validator.validate(token, method)
            except PaycheckError as error:
                await _deny(self._denials.for_error(error, method), scope, receive, send)
                return
        if not decision.allowed:
            await _deny(self._denials.for_decision(decision), scope, receive, send)
            return
        scope["paycheck"] = decision
        # Starlette's request.state reads scope["state"] (a per-request copy of the lifespan
        # state that servers pass); a server without lifespan state passes none.
        state = scope.get("state")
        if state is None:
            scope["state"] = {"paycheck": decision}
        else:
            state["paycheck"] = decision
        await self.app(scope, receive, send)

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                # Before the first request, so that its answers are covered by the feed.
                await self.validator.start_feed()
            elif message["type"] == "lifespan.shutdown.complete" and self._owns_validator:
                await self.validator.aclose()
            await send(message)

        return lifespan_send


async def _deny(denial: Denial, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        # The handshake must be received before the server lets the app close it.
        message = await receive()
        if message["type"] == "websocket.connect":
            await send(
                {
                    "type": "websocket.close",
                    "code": WEBSOCKET_POLICY_VIOLATION,
                    "reason": denial.close_reason,
                }
            )
        return
    # A fresh list per response: outer middleware (CORS, for one) appends to message headers.
    await send(
        {
            "type": "http.response.start",
            "status": denial.status,
            "headers": list(denial.raw_headers),
        }
    )
    await send({"type": "http.response.body", "body": denial.body})


def _route_name(scope: Scope) -> str | None:
    """The name of the Starlette route that will answer ``scope``, if the app is Starlette's.

    The router has not run yet when the middleware does, so this matches the routes itself;
    the caller remembers the answer per (HTTP method, path), so it runs once per path.
    """
    router = getattr(scope.get("app"), "router", None)
    routes = getattr(router, "routes", None)
    return _match(routes, scope) if routes else None


def _match(routes: Iterable[Any], scope: Scope) -> str | None:
    partial: str | None = None
    for route in routes:
        match, child_scope = route.matches(scope)
        if match is Match.FULL:
            inner = getattr(route, "routes", None)  # Mount and Host hold routes of their own
            if inner:
                name = _match(inner, {**scope, **child_scope})
                if name is not None:
                    return name
            name = getattr(route, "name", None)
            return name if isinstance(name, str) and name else None
        if match is Match.PARTIAL and partial is None:
            # The path matches but the HTTP method does not; the router will answer 405.
            name = getattr(route, "name", None)
            partial = name if isinstance(name, str) and name else None
    return partial
