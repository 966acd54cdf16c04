"""Bearer-token validation for any WSGI app.

One line protects every path::

    from paycheck_integrations.wsgi import PaycheckWSGIMiddleware

    app = PaycheckWSGIMiddleware(app, service="Online marketplace",
                                 server_url="http://payments:8000")

The method's name is the path's last segment unless ``methods=`` says otherwise (Flask apps
get their endpoint names from :mod:`paycheck_integrations.flask` instead). A granted request
reaches the app with the grant (an :class:`~paycheck_core.AccessDecision`) in
``environ["paycheck.grant"]``; a refused one is answered here (RFC 6750 statuses,
``{"description": ...}`` body) and never reaches the app.

It needs nothing but the standard library, so it has no extra of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from paycheck_core import PaycheckError, TokenValidator

from ._common import (
    DEFAULT_RETRY_AFTER,
    Denials,
    Exemptions,
    MethodMap,
    MethodNames,
    bearer_token,
    configure,
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
            (``"/static*"``). OPTIONS requests never need one.
        retry_after: seconds a 503 (payment server unavailable) asks the client to wait.

    Raises:
        ValueError: neither or both of ``server_url`` and ``validator``, no ``service``, or
            another option out of range; the message says what to pass.

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
            partial(TokenValidator, follow=follow),
            follow=follow,
        )
        self._names = MethodNames(methods)
        self._exempt = Exemptions(exclude_paths)
        self._denials = Denials(self.service, retry_after=retry_after)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        http_method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        if self._exempt(http_method, path):
            return self.app(environ, start_response)
        token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
        if not isinstance(token, str):
            denial = self._denials.for_problem(token)
        else:
            method = self._names.cached(http_method, path) or self._names.resolve(http_method, path)
            try:
                decision = self.validator.validate(token, method)
            except PaycheckError as error:
                denial = self._denials.for_error(error, method)
            else:
                if decision.allowed:
                    environ[GRANT_KEY] = decision
                    return self.app(environ, start_response)
                denial = self._denials.for_decision(decision)
        start_response(denial.wsgi_status, list(denial.wsgi_headers))
        return [denial.body]

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
