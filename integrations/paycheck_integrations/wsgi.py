"""Bearer-token validation for any WSGI app.

One line protects every path::

    from paycheck_integrations.wsgi import PaycheckWSGIMiddleware

    app = PaycheckWSGIMiddleware(app, service="Online marketplace",
                                 server_url="http://payments:8000")

The method's name is the path's last segment unless ``methods=`` says otherwise (Flask apps
get their endpoint names from :mod:`paycheck_integrations.flask` instead). A granted request
reaches the app with the grant (an :class:`~paycheck_core.AccessDecision`) in
``environ["paycheck.grant"]``; a refused one is answered here (RFC 6750 statuses,
``{"description": ...}`` body) and never reaches the app. A CORS preflight (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) passes without a token, and its answer
leaves without a body.

It needs nothing but the standard library, so it has no extra of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from paycheck_core import PaycheckError, TokenValidator

from ._common import (
    DEFAULT_RETRY_AFTER,
    MAX_METHOD_NAME_LENGTH,
    Denial,
    Denials,
    Exemptions,
    MethodMap,
    MethodNames,
    bearer_token,
    configure,
    wsgi_preflight,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
else:
    StartResponse = Callable[..., Any]
    WSGIApplication = Callable[..., Iterable[bytes]]
    WSGIEnvironment = dict[str, Any]

__all__ = ["GRANT_KEY", "PaycheckWSGIMiddleware"]

GRANT_KEY = "paycheck.grant"
"""The WSGI environ key under which a granted request carries its grant."""

_Self = TypeVar("_Self", bound="PaycheckWSGIMiddleware")


class PaycheckWSGIMiddleware:
    """WSGI middleware that lets a request through only with a paid token.

    Args:
        app: the WSGI app to protect.
        service: this service's name in the payment server's catalog (taken from
            ``validator`` when omitted).
        server_url: the payment server's URL; the middleware then makes its own
            :class:`~paycheck_core.TokenValidator` (closed by :meth:`close`).
        validator: a ready, thread-safe :class:`~paycheck_core.TokenValidator` instead of
            ``server_url``.
        follow: with ``server_url``, make a validator that follows the payment server's
            token-event feed (from a thread started by the first request), so that a
            deactivated token is refused within seconds. A ready validator follows the feed
            as it was made.
        methods: path templates to method names (``{"/items/{id}": "getItem",
            "POST /items": "addItem"}``) or a callable ``(http_method, path) -> name | None``.
        exclude_paths: paths that need no token: exact (``"/health"``) or prefixes
            (``"/static*"``). A CORS preflight never needs one.
        retry_after: seconds a 503 (payment server unavailable) asks the client to wait.

    Raises:
        ValueError: neither or both of ``server_url`` and ``validator``, no ``service``, a
            method name in ``methods`` longer than the payment server accepts, or another
            option out of range; the message says what to pass.

    Example::

        app = PaycheckWSGIMiddleware(
            app,
            service="Online marketplace",
            server_url="http://payments:8000",
            methods={"/items/{id}": "getItem"},
        )
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        service: str | None = None,
        server_url: str | None = None,
        validator: TokenValidator | None = None,
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
            TokenValidator,
            follow=follow,
        )
        self._names = MethodNames(methods)
        self._exempt = Exemptions(exclude_paths)
        self._denials = Denials(self.service, retry_after=retry_after)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        http_method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        if http_method == "OPTIONS" and wsgi_preflight(environ):
            return _without_body(self.app, environ, start_response)
        if self._exempt(path):
            return self.app(environ, start_response)
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if isinstance(token, str):
            method = self._names.cached(http_method, path) or self._names.resolve(http_method, path)
            denial = self._check(environ, token, method)
            if denial is None:
                return self.app(environ, start_response)
        else:
            denial = self._denials.for_problem(token)
        start_response(denial.wsgi_status, list(denial.wsgi_headers))
        return [denial.body]

    def _check(self, environ: WSGIEnvironment, token: str, method: str) -> Denial | None:
        """``None`` with the grant put in ``environ``, or the answer that refuses the request."""
        if len(method) > MAX_METHOD_NAME_LENGTH:
            return self._denials.unbuyable  # the payment server would answer 400: ask nothing
        try:
            decision = self.validator.validate(token, method)
        except PaycheckError as error:
            return self._denials.for_error(error, method)
        if not decision.allowed:
            return self._denials.for_decision(decision)
        environ[GRANT_KEY] = decision
        return None

    def close(self) -> None:
        """Close the validator if the middleware made it from ``server_url``."""
        if self._owns_validator:
            self.validator.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _discard(data: bytes) -> None:
    return None


def _without_body(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
) -> Iterable[bytes]:
    """Run ``app`` for a preflight passed without a token, and send its status and headers only.

    A browser reads nothing of a preflight's answer but its status and headers; a view that
    answers ``OPTIONS`` itself must not hand its body to a caller who paid for nothing.
    """
    started: list[bool] = []  # not empty once the app has called start_response

    def start_head(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        started.append(True)
        kept = [(name, value) for name, value in headers if name.lower() != "content-length"]
        start_response(status, [*kept, ("Content-Length", "0")], exc_info)
        return _discard  # what the app writes through write() goes nowhere either

    body = app(environ, start_head)
    try:
        if not started:
            # An app may call start_response as its body starts (a generator): run it so far.
            for _ in body:
                if started:
                    break
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return []
