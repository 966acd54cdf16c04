"""Bearer-token validation for Flask, as an extension.

One line protects every view::

    from paycheck_integrations.flask import Paycheck, current_grant

    paycheck = Paycheck(app, service="Online marketplace", server_url="http://payments:8000")

or, with an app factory, ``paycheck = Paycheck()`` and later ``paycheck.init_app(app)`` with
the config keys ``PAYCHECK_SERVICE`` and ``PAYCHECK_SERVER_URL``.

The method's name is the view's endpoint (without its blueprint's prefix); decorators change
that per view::

    @app.get("/items/<int:item_id>")
    @paycheck.method("getItem")     # another method name for this view
    def item(item_id: int): ...

    @app.get("/health")
    @paycheck.exempt                # no token needed
    def health(): ...

With ``protect_all=False`` only views marked ``@paycheck.required()`` (or ``@paycheck.method``)
are checked. Inside a granted view, :data:`current_grant` is the grant (an
:class:`~paycheck_core.AccessDecision`), also in ``request.environ["paycheck.grant"]``.
Requests that match no view (404, 405) are left to Flask. A CORS preflight (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) needs no token; its answer leaves without a
body, so that a view that answers ``OPTIONS`` itself gives nothing away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from paycheck_core import AccessDecision, PaycheckError, TokenValidator

from ._common import (
    DEFAULT_RETRY_AFTER,
    MAX_METHOD_NAME_LENGTH,
    Denial,
    Denials,
    Exemptions,
    bearer_token,
    check_name_length,
    check_retry_after,
    configure,
    wsgi_preflight,
)
from .wsgi import GRANT_KEY

try:
    from flask import Flask, Response, after_this_request, current_app, request
    from werkzeug.local import LocalProxy
except ImportError as exc:
    raise ImportError(
        'paycheck_integrations.flask needs Flask: pip install "paycheck-suite[flask]"'
    ) from exc

__all__ = ["Paycheck", "current_grant"]

F = TypeVar("F", bound=Callable[..., Any])

_METHOD = "_paycheck_method"
_EXEMPT = "_paycheck_exempt"
_REQUIRED = "_paycheck_required"
_EXEMPT_VIEW = ""  # the rule of a view that needs no token


@dataclass
class _State:
    """What the extension keeps per app."""

    validator: TokenValidator
    denials: Denials
    exempt: Exemptions
    protect_all: bool
    rules: dict[str, str] = field(default_factory=dict)  # endpoint -> method or _EXEMPT_VIEW


class Paycheck:
    """The Paycheck extension for Flask.

    Args:
        app: the app to protect now; omit it and call :meth:`init_app` later.
        service: this service's name in the payment server's catalog; defaults to the
            ``PAYCHECK_SERVICE`` config key (or the validator's service).
        server_url: the payment server's URL; defaults to ``PAYCHECK_SERVER_URL``.
        validator: a ready, thread-safe :class:`~paycheck_core.TokenValidator` instead.
        protect_all: check every view (the default); with ``False`` only views marked
            :meth:`required` or :meth:`method`.
        exclude_paths: paths that need no token: exact (``"/health"``) or prefixes
            (``"/static*"``). A CORS preflight never needs one.
        retry_after: seconds a 503 (payment server unavailable) asks the client to wait.
        follow: with a server URL, make a validator that follows the payment server's
            token-event feed (from a thread started by the first request), so that a
            deactivated token is refused within seconds. A ready validator follows the feed
            as it was made.

    Raises:
        ValueError: both ``server_url`` and ``validator``; at :meth:`init_app`, no service or
            neither a server URL nor a validator. The message says what to pass.

    A view whose endpoint is longer than the payment server accepts as a method name (200
    characters) cannot be paid for: its requests are refused with 400 without asking the
    payment server.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        service: str | None = None,
        server_url: str | None = None,
        validator: TokenValidator | None = None,
        protect_all: bool = True,
        exclude_paths: Sequence[str] = (),
        retry_after: int = DEFAULT_RETRY_AFTER,
        follow: bool = True,
    ) -> None:
        if server_url is not None and validator is not None:
            raise ValueError(
                "pass either server_url= (the extension then makes its validator) or "
                "validator= (a ready TokenValidator), not both"
            )
        if not isinstance(protect_all, bool):
            raise ValueError(f"protect_all must be True or False, not {protect_all!r}")
        self._service = service
        self._server_url = server_url
        self._validator = validator
        self._protect_all = protect_all
        self._exempt = Exemptions(exclude_paths)
        self._retry_after = check_retry_after(retry_after)
        self._follow = follow
        self._states: WeakKeyDictionary[Flask, _State] = WeakKeyDictionary()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Protect ``app``: read its config and check every request before its view.

        Raises:
            ValueError: no service, or neither a server URL nor a validator, was given here
                or in the config.
        """
        service = app.config.setdefault("PAYCHECK_SERVICE", self._service)
        server_url = app.config.setdefault("PAYCHECK_SERVER_URL", self._server_url)
        if self._validator is not None:
            server_url = None  # the constructor's validator wins over a configured URL
        try:
            service, validator = configure(
                service,
                server_url,
                self._validator,
                TokenValidator,
                follow=self._follow,
            )
        except ValueError as exc:
            if self._validator is not None:
                raise
            raise ValueError(
                f"{exc}, or set the PAYCHECK_SERVICE and PAYCHECK_SERVER_URL config keys"
            ) from None
        state = _State(
            validator=validator,
            denials=Denials(service, retry_after=self._retry_after),
            exempt=self._exempt,
            protect_all=self._protect_all,
        )
        self._states[app] = state
        app.extensions["paycheck"] = self
        app.before_request(_hook(state))

    def validator(self, app: Flask | None = None) -> TokenValidator:
        """The validator used for ``app`` (the current app by default).

        Raises:
            RuntimeError: the extension is not registered on the app.
        """
        return self._state(app).validator

    # --- decorators --------------------------------------------------------------------------

    def method(self, name: str) -> Callable[[F], F]:
        """Check the decorated view for the method ``name`` instead of its endpoint's name.

        It also marks the view as paid when ``protect_all=False``.

        Raises:
            ValueError: ``name`` is empty, or longer than the payment server accepts.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"the method name must be a non-empty string, not {name!r}")
        check_name_length(name, what="the method name")

        def decorate(view: F) -> F:
            setattr(view, _METHOD, name)
            return view

        return decorate

    def exempt(self, view: F) -> F:
        """Let the decorated view run without a token."""
        setattr(view, _EXEMPT, True)
        return view

    def required(self, name: str | None = None) -> Callable[[F], F]:
        """Check the decorated view (for ``protect_all=False``), for ``name`` or its endpoint.

        Raises:
            ValueError: ``name`` is empty, or longer than the payment server accepts.
        """
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"the method name must be a non-empty string or None, not {name!r}")
        if name is not None:
            check_name_length(name, what="the method name")

        def decorate(view: F) -> F:
            setattr(view, _REQUIRED, True)
            if name is not None:
                setattr(view, _METHOD, name)
            return view

        return decorate

    # --- the check ---------------------------------------------------------------------------

    def _state(self, app: Flask | None = None) -> _State:
        if app is None:
            app = current_app._get_current_object()  # type: ignore[attr-defined]  # werkzeug's proxy API
        state = self._states.get(app)
        if state is None:
            raise RuntimeError(
                "The Paycheck extension is not registered on this Flask app: "
                "did you forget paycheck.init_app(app)?"
            )
        return state


def _hook(state: _State) -> Callable[[], Response | None]:
    """The ``before_request`` function that checks the requests of one app.

    A cache hit must stay within a few microseconds, so the hook is a plain function (Flask
    asks of every hook whether it is a coroutine function, and answers fastest for these)
    closing over what it needs, reads the request proxy once and then only the request's
    attributes and its WSGI environ (every attribute read through the proxy is a
    context-variable lookup, about 0.8 µs), names the method once per endpoint, and keeps the
    grant in the environ rather than on ``g``.
    """
    current_request = request._get_current_object  # type: ignore[attr-defined]  # werkzeug's proxy API
    rules = state.rules
    exempt = state.exempt
    validate = state.validator.validate
    cached = state.validator.cached
    denials = state.denials

    def paycheck_before_request() -> Response | None:
        req = current_request()
        url_rule = req.url_rule
        if url_rule is None:
            return None  # no view matched: let Flask answer 404 or 405
        endpoint = url_rule.endpoint
        method = rules.get(endpoint)
        if method is None:
            method = rules[endpoint] = _method_of(state, endpoint)
        if not method or exempt(req.path):
            return None
        environ = req.environ
        if req.method == "OPTIONS" and wsgi_preflight(environ):
            after_this_request(_without_body)
            return None
        authorization = environ.get("HTTP_AUTHORIZATION")
        # The usual header is looked up in the cache as it is: only tokens that passed the
        # strict parse below (or the validator's) are ever cached. Anything else is parsed.
        decision = (
            cached(authorization[7:], method)
            if authorization is not None and authorization.startswith("Bearer ")
            else None
        )
        if decision is None:
            token = bearer_token(authorization)
            if not isinstance(token, str):
                return _deny(denials.for_problem(token))
            if len(method) > MAX_METHOD_NAME_LENGTH:
                return _deny(denials.unbuyable)  # the payment server would answer 400
            try:
                decision = validate(token, method)
            except PaycheckError as error:
                return _deny(denials.for_error(error, method))
        if not decision.allowed:
            return _deny(denials.for_decision(decision))
        environ[GRANT_KEY] = decision
        return None

    return paycheck_before_request


def _without_body(response: Response) -> Response:
    """The answer to a preflight passed without a token, stripped of its body."""
    previous = response.response
    response.set_data(b"")  # also sets Content-Length: 0
    close = getattr(previous, "close", None)  # a streamed body's generator or file
    if close is not None:
        close()
    return response


def _deny(denial: Denial) -> Response:
    return current_app.response_class(
        denial.body, status=denial.status, headers=list(denial.headers)
    )


def _method_of(state: _State, endpoint: str) -> str:
    """The method name checked for ``endpoint``'s view, or ``""`` if it needs no token."""
    view = current_app.view_functions.get(endpoint)
    if getattr(view, _EXEMPT, False):
        return _EXEMPT_VIEW
    named = getattr(view, _METHOD, None)
    if not state.protect_all and not named and not getattr(view, _REQUIRED, False):
        return _EXEMPT_VIEW
    return named or endpoint.rpartition(".")[2]


def _current_grant() -> AccessDecision:
    environ = request._get_current_object().environ  # type: ignore[attr-defined]  # werkzeug's proxy API
    grant: AccessDecision | None = environ.get(GRANT_KEY)
    if grant is None:
        raise RuntimeError(
            "No Paycheck grant for this request: its view is exempt, or Paycheck did not "
            "check it (did you forget init_app?)."
        )
    return grant


current_grant: AccessDecision = LocalProxy(_current_grant)  # type: ignore[assignment]  # a proxy stands in for the grant, as flask.request does
"""The grant of the current request (an :class:`~paycheck_core.AccessDecision`).

Raises :class:`RuntimeError` when used in a view that Paycheck did not check; ``bool()`` of it
is then ``False``.
"""
