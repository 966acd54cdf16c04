"""What every adapter shares, with no web framework and no I/O.

Each concern has its own module, re-exported here for the adapters:

* :mod:`._credentials`: :func:`bearer_token` reads ``Authorization: Bearer <token>`` (and
  :func:`asgi_authorization` picks that header out of an ASGI scope); :func:`asgi_preflight` and
  :func:`wsgi_preflight` tell a CORS preflight from an ordinary ``OPTIONS`` request;
* :mod:`._names`: :class:`MethodNames` turns a request into the ``methodName`` to check, and
  :data:`MAX_METHOD_NAME_LENGTH` is the longest name a token can pay for;
* :mod:`._refusals`: :class:`Denials` holds the ready-made deny responses of one service
  (RFC 6750);
* here, :class:`Exemptions` says which paths need no token, and :func:`configure` checks an
  adapter's options and returns its service and validator.

The adapters (:mod:`~paycheck_integrations.asgi`, :mod:`~paycheck_integrations.fastapi`,
:mod:`~paycheck_integrations.wsgi`, :mod:`~paycheck_integrations.flask`) only translate between
their framework and these pieces.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from paycheck_core import AsyncTokenValidator, TokenValidator

from ._credentials import (
    MAX_AUTHORIZATION_LENGTH,
    Problem,
    asgi_authorization,
    asgi_preflight,
    bearer_token,
    wsgi_preflight,
)
from ._names import (
    MAX_METHOD_NAME_LENGTH,
    MAX_SERVICE_NAME_LENGTH,
    MethodMap,
    MethodNames,
    NameMemo,
    check_name_length,
)
from ._refusals import DEFAULT_RETRY_AFTER, Denial, Denials, check_retry_after

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "MAX_AUTHORIZATION_LENGTH",
    "MAX_METHOD_NAME_LENGTH",
    "MAX_SERVICE_NAME_LENGTH",
    "Denial",
    "Denials",
    "Exemptions",
    "MethodMap",
    "MethodNames",
    "NameMemo",
    "Problem",
    "asgi_authorization",
    "asgi_preflight",
    "bearer_token",
    "check_name_length",
    "check_retry_after",
    "configure",
    "wsgi_preflight",
]


class Exemptions:
    """Which paths need no token (a CORS preflight needs none either: see ``asgi_preflight``).

    Args:
        exclude_paths: exact paths (``"/health"``) and prefixes ending in ``*`` (``"/docs*"``).

    Raises:
        ValueError: a pattern does not start with ``/``, or has a ``*`` anywhere but at its end.
    """

    __slots__ = ("_exact", "_prefixes", "patterns")

    def __init__(self, exclude_paths: Iterable[str] = ()) -> None:
        if isinstance(exclude_paths, str):
            raise ValueError(
                f"exclude_paths must be a list of paths, not the string {exclude_paths!r}: "
                f"write exclude_paths=[{exclude_paths!r}]"
            )
        exact: set[str] = set()
        prefixes: list[str] = []
        for pattern in exclude_paths:
            if not isinstance(pattern, str) or not pattern.startswith("/"):
                raise ValueError(
                    f"exclude_paths holds paths that start with '/', like '/health' or "
                    f"'/docs*', not {pattern!r}"
                )
            if "*" in pattern[:-1]:
                raise ValueError(
                    f"'*' may only end a pattern of exclude_paths (a prefix), as in '/docs*'; "
                    f"{pattern!r} has one elsewhere"
                )
            if pattern.endswith("*"):
                prefixes.append(pattern[:-1])
            else:
                exact.add(pattern)
        self.patterns = tuple(exclude_paths)
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)

    def __call__(self, path: str) -> bool:
        """Whether a request for ``path`` needs no token, whatever its HTTP method."""
        return path in self._exact or path.startswith(self._prefixes)


V = TypeVar("V", TokenValidator, AsyncTokenValidator)


def configure(
    service: str | None,
    server_url: str | None,
    validator: V | None,
    validator_type: type[V],
    *,
    follow: bool = True,
) -> tuple[str, V]:
    """Check an adapter's options and return its service and validator.

    Args:
        service: the ``service=`` option.
        server_url: the ``server_url=`` option.
        validator: the ``validator=`` option.
        validator_type: the validator class the adapter needs; one is made from
            ``server_url`` when no ``validator`` is given.
        follow: the ``follow=`` option: whether the validator made follows the token-event
            feed.

    Raises:
        ValueError: neither or both of ``server_url`` and ``validator``, no service, a service
            other than the validator's, a service name longer than the payment server accepts
            (:data:`MAX_SERVICE_NAME_LENGTH`), a validator of the wrong kind, or ``follow``
            with a validator.
    """
    kind = validator_type.__name__
    if server_url is not None and validator is not None:
        raise ValueError(
            "pass either server_url= (the adapter then makes its validator) or validator= "
            f"(a ready {kind}), not both"
        )
    if not isinstance(follow, bool):
        raise ValueError(f"follow must be True or False, not {follow!r}")
    if validator is not None and not follow:
        raise ValueError(
            f"follow=False is for the validator made from server_url=; make yours with "
            f"{kind}(..., follow=False)"
        )
    if validator is not None:
        if not isinstance(validator, validator_type):
            raise ValueError(
                f"validator must be a {kind} for this adapter, not {type(validator).__name__}"
            )
        if service is not None and service != validator.service:
            raise ValueError(
                f"service={service!r} differs from the validator's service "
                f"{validator.service!r}: pass one of them"
            )
        return _payable(validator.service), validator
    if not isinstance(service, str) or not service:
        raise ValueError(
            "pass service= with the name of this service in the payment server's catalog, "
            "for example service='Online marketplace'"
        )
    _payable(service)
    if server_url is None:
        raise ValueError(
            "pass server_url= (the payment server, for example 'http://payments:8000') or "
            f"validator= (a ready {kind})"
        )
    return service, validator_type(server_url, service, follow=follow)


def _payable(service: str) -> str:
    # Every check of a longer name would be refused with 400: fail at startup instead.
    return check_name_length(service, what="the service name", limit=MAX_SERVICE_NAME_LENGTH)
