"""Bearer-token validation for FastAPI, as a dependency (or as middleware).

A dependency per route, or per router, shows the Bearer scheme in OpenAPI (Swagger's
"Authorize" button works) and hands the grant to the handler::

    from fastapi import Depends, FastAPI
    from paycheck_integrations.fastapi import Paycheck

    paycheck = Paycheck(service="Online marketplace", server_url="http://payments:8000")
    app = FastAPI()

    @app.get("/getInfo")
    async def get_info(grant: AccessDecision = Depends(paycheck.require("getInfo"))) -> ...:
        ...

    router = APIRouter(dependencies=[Depends(paycheck.require())])  # method = route's name

To protect every route in one line without touching them, use the ASGI middleware, re-exported
here: ``app.add_middleware(PaycheckMiddleware, service=..., server_url=...)``.

A refused request is answered with the same status, headers and ``{"description": ...}`` body
as the middleware's (not FastAPI's ``{"detail": ...}``): the dependency raises
:class:`PaycheckDenied`, and registers the handler that renders it in the app's exception
handler table the first time it refuses a request, so there is nothing else to install. (Where
a framework gives no such table, :class:`PaycheckDenied` is an ``HTTPException`` with the same
status and headers, and its ``detail`` is the description.) On a websocket route a refusal
closes the connection with code 1008.

A CORS preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) needs no
token, but the dependency answers it ``204 No Content`` itself, without running the handler:
``CORSMiddleware`` answers real preflights before routing, so one that reaches a protected
route has no CORS answer to get there, and the handler must not run for a caller who paid for
nothing. (A route that answers preflights itself belongs in ``exclude_paths``.)
"""

# No `from __future__ import annotations`: FastAPI reads a dependency's annotations at runtime,
# and older releases (fastapi>=0.115 is allowed) resolve string annotations only through the
# callable's __globals__, which the dependency, an instance, does not have.

from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

from paycheck_core import AccessDecision, AsyncTokenValidator, PaycheckError

from ._common import (
    DEFAULT_RETRY_AFTER,
    MAX_METHOD_NAME_LENGTH,
    Denial,
    Denials,
    Exemptions,
    MethodNames,
    asgi_authorization,
    asgi_preflight,
    bearer_token,
    check_name_length,
    configure,
)

try:
    from fastapi import HTTPException, WebSocketException
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.security.base import SecurityBase
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response
except ImportError as exc:
    raise ImportError(
        'paycheck_integrations.fastapi needs FastAPI: pip install "paycheck-suite[fastapi]"'
    ) from exc

from ._starlette_routes import route_name
from .asgi import WEBSOCKET_POLICY_VIOLATION, PaycheckMiddleware

__all__ = ["Paycheck", "PaycheckDenied", "PaycheckMiddleware", "paycheck_denied_handler"]

_HANDLERS_KEY = "starlette.exception_handlers"
_SCHEME_NAME = "PaycheckToken"  # the security scheme's name in OpenAPI
_NO_STORE = (("cache-control", "no-store"),)
_PREFLIGHT = Denial(
    status=204,
    description="",
    headers=_NO_STORE,
    body=b"",
    raw_headers=((b"cache-control", b"no-store"),),
    wsgi_status="204 No Content",
    wsgi_headers=_NO_STORE,
    close_reason="",
)
"""The dependency's answer to a preflight: no body, and the handler does not run."""


class PaycheckDenied(HTTPException):
    """A request refused by :meth:`Paycheck.require`; rendered by :func:`paycheck_denied_handler`.

    Attributes:
        denial: the response to send (status, headers, ``{"description": ...}`` body).
    """

    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.status, detail=denial.description, headers=dict(denial.headers))
        self.denial = denial


async def paycheck_denied_handler(request: Request, exc: Exception) -> Response:
    """Render a :class:`PaycheckDenied` as its ready-made response.

    :meth:`Paycheck.require` registers it by itself; register it yourself
    (``app.add_exception_handler(PaycheckDenied, paycheck_denied_handler)``) only if you
    replace Starlette's exception middleware.
    """
    if not isinstance(exc, PaycheckDenied):  # pragma: no cover - registered for it alone
        raise exc
    denial = exc.denial
    return Response(denial.body, status_code=denial.status, headers=dict(denial.headers))


class Paycheck:
    """Paycheck for a FastAPI app: :meth:`require` makes the dependencies.

    Args:
        service: this service's name in the payment server's catalog (taken from
            ``validator`` when omitted).
        server_url: the payment server's URL; a validator is then made for it.
        validator: a ready :class:`~paycheck_core.AsyncTokenValidator` instead.
        follow: with ``server_url``, make a validator that follows the payment server's
            token-event feed (from the first request), so that a deactivated token is refused
            within seconds. A ready validator follows the feed as it was made.
        exclude_paths: paths that need no token even under a router-wide dependency: exact
            (``"/health"``) or prefixes (``"/public*"``). A CORS preflight never needs one
            (the dependency answers it 204).
        retry_after: seconds a 503 (payment server unavailable) asks the client to wait.

    Raises:
        ValueError: neither or both of ``server_url`` and ``validator``, no ``service``, or
            another option out of range; the message says what to pass.

    A route whose name is longer than the payment server accepts as a method name (200
    characters) cannot be paid for: its requests are refused with 400 without asking the
    payment server.
    """

    def __init__(
        self,
        *,
        service: str | None = None,
        server_url: str | None = None,
        validator: AsyncTokenValidator | None = None,
        exclude_paths: Sequence[str] = (),
        retry_after: int = DEFAULT_RETRY_AFTER,
        follow: bool = True,
    ) -> None:
        self.service, self.validator = configure(
            service,
            server_url,
            validator,
            AsyncTokenValidator,
            follow=follow,
        )
        self._exempt = Exemptions(exclude_paths)
        self._denials = Denials(self.service, retry_after=retry_after)
        self._fallback_names = MethodNames()
        self._openapi = HTTPBearerModel(
            bearerFormat="pct_...", description=f"A paid Paycheck access token for {self.service}."
        )

    def require(self, method: str | None = None) -> Callable[..., Awaitable[AccessDecision | None]]:
        """A dependency that lets the request through only with a token paid for ``method``.

        Args:
            method: the method name to check; the route's name when omitted (the endpoint
                function's name, or the route's ``name=``).

        Returns:
            The dependency, for ``Depends(...)`` or a router's ``dependencies=[...]``. It
            returns the grant (an :class:`~paycheck_core.AccessDecision`), also kept in
            ``request.state.paycheck`` and ``scope["paycheck"]``; ``None`` for a request to
            one of ``exclude_paths``.

        Raises:
            ValueError: ``method`` is given but empty, or longer than the payment server
                accepts.
        """
        if method is not None and (not isinstance(method, str) or not method):
            raise ValueError(f"method must be a non-empty method name or None, not {method!r}")
        if method is not None:
            check_name_length(method, what="method=, the method name")
        return _Requirement(self, method)

    def _fallback_name(self, http_method: str, path: str) -> str:
        names = self._fallback_names
        return names.cached(http_method, path) or names.resolve(http_method, path)

    @staticmethod
    def _refuse(connection: HTTPConnection, denial: Denial) -> NoReturn:
        # A refusal is the answer, not a failure: raised without the payment server's error
        # as its context (Denials.for_error has logged that one).
        if connection.scope["type"] == "websocket":
            raise WebSocketException(
                WEBSOCKET_POLICY_VIOLATION, reason=denial.close_reason
            ) from None
        handlers = connection.scope.get(_HANDLERS_KEY)
        if handlers is not None:
            # The live table of Starlette's ExceptionMiddleware, shared by every request:
            # registering here once is what keeps Paycheck a one-line dependency.
            handlers[0].setdefault(PaycheckDenied, paycheck_denied_handler)
        raise PaycheckDenied(denial) from None


class _Requirement(SecurityBase):
    """One :meth:`Paycheck.require` dependency, which is also the Bearer security scheme.

    FastAPI shows a dependency that is a :class:`~fastapi.security.base.SecurityBase` in
    OpenAPI (Swagger's "Authorize" button), so the dependency needs no ``Security(HTTPBearer)``
    sub-dependency of its own: FastAPI solves one dependency per request instead of two, which
    was most of the dependency's cost (benchmark 3).
    """

    def __init__(self, paycheck: Paycheck, method: str | None) -> None:
        self.model = paycheck._openapi
        self.scheme_name = _SCHEME_NAME
        self._paycheck = paycheck
        self._method = method

    async def __call__(self, connection: HTTPConnection) -> AccessDecision | None:
        paycheck = self._paycheck
        scope = connection.scope
        http_method = scope.get("method", "GET")
        path = scope["path"]
        if paycheck._exempt(path):
            return None
        if http_method == "OPTIONS" and asgi_preflight(scope["headers"]):
            paycheck._refuse(connection, _PREFLIGHT)
        name = (
            self._method
            or route_name(scope.get("route"))
            or paycheck._fallback_name(http_method, path)
        )
        authorization = asgi_authorization(scope["headers"])
        # The usual header is looked up in the cache as it is: only tokens that passed the
        # strict parse below (or the validator's) are ever cached. A hit awaits nothing.
        decision = (
            paycheck.validator.cached(authorization[7:], name)
            if type(authorization) is str and authorization.startswith("Bearer ")
            else None
        )
        if decision is None:
            token = bearer_token(authorization)
            if not isinstance(token, str):
                paycheck._refuse(connection, paycheck._denials.for_problem(token))
            if len(name) > MAX_METHOD_NAME_LENGTH:
                # The payment server would answer 400 to every check of it: ask nothing.
                paycheck._refuse(connection, paycheck._denials.unbuyable)
            try:
                decision = await paycheck.validator.validate(token, name)
            except PaycheckError as error:
                paycheck._refuse(connection, paycheck._denials.for_error(error, name))
        if not decision.allowed:
            paycheck._refuse(connection, paycheck._denials.for_decision(decision))
        scope["paycheck"] = decision
        # request.state is a view of scope["state"]: one dict write instead of its __setattr__.
        scope.setdefault("state", {})["paycheck"] = decision
        return decision
