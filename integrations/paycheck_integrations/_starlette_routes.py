"""Which Starlette (or FastAPI) route will answer a request, found before the router runs.

:class:`~paycheck_integrations.asgi.PaycheckMiddleware` checks a request before routing, yet
must check it for the name of the route that will answer it. It matches the routes itself,
the way Starlette's router does: the first full match wins, else the first partial one (a
route whose path matches but not its HTTP method, which answers 405); ``Mount`` and ``Host``
are searched inside, and so are FastAPI's included routers (``fastapi.routing``'s
``_IncludedRouter``, which keeps its routes to itself; its ``_match`` is the only way to see
them).

Which route answers depends on the scope type, the path, ``root_path`` and the HTTP method for
``Route``, ``WebSocketRoute`` and ``Mount``; ``Host`` also reads the ``Host`` header, and a
route class of the app's own may read anything. :func:`keyable` says whether a route table
holds only the first kind, so that the middleware may remember names under those keys.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.routing import Match, Mount, Route, Router, WebSocketRoute

__all__ = ["answering_name", "find_router", "keyable", "reaches", "route_name"]

_DEPTH = 32  # nested mounts and routers searched at most; Starlette has no limit, apps do


def find_router(app: Any) -> Router | None:
    """The router at the bottom of ``app``'s middleware stack, if it can be seen.

    Follows ``.app`` from middleware to middleware (Starlette's and most others keep the next
    app there) and takes a Starlette or FastAPI app's ``.router``.
    """
    node = app
    for _ in range(_DEPTH * 2):
        if isinstance(node, Router):
            return node
        router = getattr(node, "router", None)
        if isinstance(router, Router):
            return router
        node = getattr(node, "app", None)
        if node is None:
            return None
    return None


def reaches(app: Any, target: object) -> bool:
    """Whether following ``.app`` from ``app`` (a middleware stack's top) reaches ``target``."""
    node = app
    for _ in range(_DEPTH * 2):
        if node is None:
            return False
        if node is target:
            return True
        node = getattr(node, "app", None)
    return False


def route_name(route: Any) -> str | None:
    """``route.name`` if it is a non-empty string."""
    name = getattr(route, "name", None)
    return name if isinstance(name, str) and name else None


def answering_name(router: Router, scope: Mapping[str, Any]) -> str | None:
    """The name of the route of ``router`` that will answer ``scope``, if it has one.

    ``None`` when no route matches (the router then answers 404 or redirects) or when the
    answering route has no name. Nothing of ``scope`` is changed.
    """
    # A copy: FastAPI's included routers write their bookkeeping into the scope they match.
    return _answering(router.routes, dict(scope), 0)


def _answering(routes: Iterable[Any], scope: dict[str, Any], depth: int) -> str | None:
    partial: tuple[Any, dict[str, Any]] | None = None
    for route in routes:
        match, child_scope = route.matches(scope)
        if match is Match.FULL:
            return _within(route, {**scope, **child_scope}, depth)
        if match is Match.PARTIAL and partial is None:
            partial = (route, child_scope)
    if partial is not None:
        route, child_scope = partial
        return _within(route, {**scope, **child_scope}, depth)
    return None


def _within(route: Any, scope: dict[str, Any], depth: int) -> str | None:
    """The name of what answers ``scope`` once ``route`` matched it: ``route`` or a route inside."""
    if depth >= _DEPTH:
        return route_name(route)
    included = _included_match(route)
    if included is not None:
        # FastAPI's included router: it re-matches its own routes, prefixed, on handling.
        _, child_scope, inner, _ = included(scope)
        if inner is None:
            return None
        return _within(inner, {**scope, **child_scope}, depth + 1)
    inner_routes = getattr(route, "routes", None)  # Mount and Host hold routes of their own
    if inner_routes:
        name = _answering(inner_routes, scope, depth + 1)
        if name is not None:
            return name
    return route_name(route)


def _included_match(route: Any) -> Callable[[dict[str, Any]], Any] | None:
    match = getattr(route, "_match", None)
    if callable(match) and hasattr(route, "original_router"):
        return match  # type: ignore[no-any-return]  # FastAPI's private API, duck-typed
    return None


def _plain_matches() -> set[Any]:
    """``matches`` methods that read only the scope type, path, root_path and HTTP method."""
    plain: set[Any] = {Route.matches, WebSocketRoute.matches, Mount.matches}
    fastapi_routing = sys.modules.get("fastapi.routing")  # loaded if the app uses FastAPI
    for name in ("APIRoute", "APIWebSocketRoute"):
        kind = getattr(fastapi_routing, name, None)
        if kind is not None:
            plain.add(kind.matches)
    return plain


def keyable(router: Router) -> bool:
    """Whether the route answering a request depends only on (type, method, root_path, path).

    True when every route, inside mounts and included routers too, is a ``Route``,
    ``WebSocketRoute`` or ``Mount`` (or FastAPI's ``APIRoute`` and ``APIWebSocketRoute``),
    matching as Starlette's do. A ``Host`` route, or a route class unknown here, makes it False.
    """
    return _keyable(router.routes, _plain_matches(), 0)


def _keyable(routes: Iterable[Any], plain: set[Any], depth: int) -> bool:
    if depth >= _DEPTH:
        return False
    for route in routes:
        if type(route).matches in plain:
            inner = getattr(route, "routes", None) if isinstance(route, Mount) else None
            if inner and not _keyable(inner, plain, depth + 1):
                return False
        elif _included_match(route) is not None:
            if not _keyable(route.original_router.routes, plain, depth + 1):
                return False
        else:
            return False
    return True
