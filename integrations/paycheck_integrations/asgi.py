"""Bearer-token validation for any ASGI app: Starlette, FastAPI or plain ASGI.

One line protects every route::

    from paycheck_integrations.asgi import PaycheckMiddleware

    app.add_middleware(
        PaycheckMiddleware, service="Online marketplace", server_url="http://payments:8000"
    )

or, for a plain ASGI callable, ``app = PaycheckMiddleware(app, service=..., server_url=...)``.

Each request needs ``Authorization: Bearer <token>`` for the method it calls; the method's name
is the name of the Starlette (or FastAPI) route that will answer it, else the path's last
segment, unless ``methods=`` says otherwise. A granted request reaches the app with the grant
(an :class:`~paycheck_core.AccessDecision`) in ``scope["paycheck"]`` and
``request.state.paycheck``. A refused one is answered here (RFC 6750 statuses,
``{"description": ...}`` body) and never reaches the app; a refused websocket is closed with
code 1008 (policy violation). ``lifespan`` passes through; once the app has started, the
validator starts following the payment server's token-event feed.

The middleware runs before the router, so it finds the answering route itself, as the router
will (:mod:`._starlette_routes`). Where that route depends only on the scope type, the HTTP
method, ``root_path`` and the path (``Route``, ``WebSocketRoute`` and ``Mount`` only), the name
is remembered under those four; with ``Host`` routes or route classes of the app's own, it is
found again for every request. Routes added to the app after its first request are not seen
by the names already remembered: finish the route table before serving.

A CORS preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) passes
without a token, for the CORS middleware (or the route) to answer; its answer leaves without
a body, so that a route that answers ``OPTIONS`` itself gives nothing away.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from paycheck_core import AsyncTokenValidator, PaycheckError

from ._common import (
    DEFAULT_RETRY_AFTER,
    MAX_METHOD_NAME_LENGTH,
    Denial,
    Denials,
    Exemptions,
    MethodMap,
    MethodNames,
    NameMemo,
    asgi_authorization,
    asgi_preflight,
    bearer_token,
    configure,
)
from ._names import last_segment

try:
    from starlette.routing import Router
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:
    raise ImportError(
        'paycheck_integrations.asgi needs Starlette: pip install "paycheck-suite[asgi]"'
    ) from exc

from ._starlette_routes import answering_name, find_router, keyable, reaches, route_name

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
            (``"/docs*"``). A CORS preflight never needs one.
        retry_after: seconds a 503 (payment server unavailable) asks the client to wait.

    Raises:
        ValueError: neither or both of ``server_url`` and ``validator``, no ``service``, a
            method name in ``methods`` longer than the payment server accepts, or another
            option out of range; the message says what to pass.

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
            follow=follow,
        )
        self._cached = self.validator.cached  # bound once: read on every request
        self._names = MethodNames(methods)
        self._exempt = Exemptions(exclude_paths)
        self._denials = Denials(self.service, retry_after=retry_after)
        self._routing: _Routing | None = None  # known at the first request
        # Names remembered per (HTTP method, root_path, path), apart for each scope type: an
        # HTTP GET and a websocket handshake of one path may reach different routes.
        self._http_names = NameMemo()
        self._websocket_names = NameMemo()
        self._remembered_http: Callable[[Hashable], str | None] = self._http_names.get
        self._remembered_websocket: Callable[[Hashable], str | None] = self._websocket_names.get

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            http_method = scope["method"]
            remembered = self._remembered_http
        elif kind == "websocket":
            http_method = "GET"  # the handshake's method
            remembered = self._remembered_websocket
        elif kind == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        else:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        try:
            root_path = scope["root_path"]
        except KeyError:  # optional in the ASGI spec
            root_path = ""
        key = (http_method, root_path, path)
        # Only requests that need a token get a name remembered, and never OPTIONS ones (a
        # preflight needs none), so a remembered name also says "not exempt, not a
        # preflight": the common request skips both checks.
        method = remembered(key)
        if method is None:
            if self._exempt(path):
                await self.app(scope, receive, send)
                return
            if http_method == "OPTIONS" and asgi_preflight(scope["headers"]):
                await self.app(scope, receive, _without_body(send))
                return
            method = self._name(scope, kind, key)
        authorization = asgi_authorization(scope["headers"])
        # The usual header is looked up in the cache as it is: only tokens that passed the
        # checks below (or the validator's) are ever cached. A hit is answered without a
        # coroutine; anything else is parsed strictly.
        decision = (
            self._cached(authorization[7:], method)
            if type(authorization) is str and authorization.startswith("Bearer ")
            else None
        )
        if decision is None:
            token = bearer_token(authorization)
            if not isinstance(token, str):
                await _deny(self._denials.for_problem(token), scope, receive, send)
                return
            if len(method) > MAX_METHOD_NAME_LENGTH:
                # The payment server would answer 400 to every check of it: ask nothing.
                await _deny(self._denials.unbuyable, scope, receive, send)
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

    def _name(self, scope: Scope, kind: str, key: tuple[str, str, str]) -> str:
        """Name the method of a request whose name is not remembered (and remember it if the
        routing allows)."""
        routing = self._routing
        if routing is None:
            routing = self._routing = _Routing.of(self, scope)
            if not routing.keyable:
                # The answering route depends on more than the key: remember nothing.
                self._remembered_http = self._remembered_websocket = _nothing
        http_method, _, path = key
        name = (
            self._names.explicit(http_method, path)
            or routing.route_name(scope)
            or last_segment(path)
        )
        if routing.keyable and http_method != "OPTIONS":
            (self._http_names if kind == "http" else self._websocket_names).remember(key, name)
        return name

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                # Before the first request, so that its answers are covered by the feed.
                await self.validator.start_feed()
            elif message["type"] == "lifespan.shutdown.complete" and self._owns_validator:
                await self.validator.aclose()
            await send(message)

        return lifespan_send


def _nothing(key: Hashable) -> None:
    return None


@dataclass(frozen=True, slots=True)
class _Routing:
    """Where the middleware finds the answering route's name; the same for every request.

    Attributes:
        router: the router below the middleware, whose routes it matches itself.
        after_routing: no router below, but the middleware runs inside a route (route-level
            middleware, or a plain app mounted in Starlette): ``scope["route"]`` is the
            answer.
        keyable: the name depends on nothing but (scope type, HTTP method, root_path, path).
    """

    router: Router | None
    after_routing: bool
    keyable: bool

    @classmethod
    def of(cls, middleware: PaycheckMiddleware, scope: Scope) -> _Routing:
        """How requests to ``middleware.app``, such as ``scope``, are routed."""
        router = find_router(middleware.app)
        outer = scope.get("app")  # the Starlette app whose stack the request goes through
        if router is None and reaches(getattr(outer, "middleware_stack", None), middleware):
            # In that app's middleware stack, above a middleware that keeps its next app out
            # of sight: the app's own router is the one below.
            router = find_router(outer)
        if router is not None:
            return cls(router, after_routing=False, keyable=keyable(router))
        if "route" in scope:
            return cls(None, after_routing=True, keyable=False)
        return cls(None, after_routing=False, keyable=True)  # a plain ASGI app: no routes

    def route_name(self, scope: Scope) -> str | None:
        """The name of the route that will answer ``scope`` (or that is answering it)."""
        if self.router is not None:
            return answering_name(self.router, scope)
        if self.after_routing:
            return route_name(scope.get("route"))
        return None


def _without_body(send: Send) -> Send:
    """``send`` for a preflight passed without a token: its status and headers, no body."""

    async def send_head(message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", ())
                if name.lower() != b"content-length"
            ]
            headers.append((b"content-length", b"0"))
            await send({**message, "headers": headers, "trailers": False})
        elif kind in {"http.response.body", "http.response.zerocopy"}:
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b""})
        elif kind == "http.response.pathsend":
            await send({"type": "http.response.body", "body": b""})
        elif not kind.startswith("http.response."):  # trailers and debug carry content too
            await send(message)

    return send_head


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
