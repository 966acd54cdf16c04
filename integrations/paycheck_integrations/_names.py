"""Naming the method a request calls (the seed's ``methodName``), and the limits on names.

No web framework and no I/O. :class:`MethodNames` applies the ``methods=`` option and the
defaults; where a name may be remembered, and under which key, is each adapter's business,
since only the adapter knows what its framework's routing depends on.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Hashable, Mapping
from typing import TypeAlias

__all__ = [
    "MAX_METHOD_NAME_LENGTH",
    "MAX_SERVICE_NAME_LENGTH",
    "MethodMap",
    "MethodNames",
    "NameMemo",
    "check_name_length",
    "last_segment",
]

MAX_METHOD_NAME_LENGTH = 200
"""The longest ``methodName`` the payment server accepts, in characters.

The seed contract sets no limit; Paycheck's (``docs/openapi/service.yml``, ``maxLength`` of
``POST /token/check``) answers 400 to a longer one. No token can pay for such a method, so the
adapters refuse it without asking the payment server.
"""

MAX_SERVICE_NAME_LENGTH = 200
"""The longest ``serviceName`` the payment server accepts, in characters (same source)."""

MethodMap: TypeAlias = Mapping[str, str] | Callable[[str, str], str | None]
"""The ``methods=`` option: path templates to method names, or ``(http_method, path) -> name``."""

_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}")


def check_name_length(name: str, *, what: str, limit: int = MAX_METHOD_NAME_LENGTH) -> str:
    """``name`` if the payment server can accept it: at most ``limit`` characters.

    Args:
        what: how the error message calls the name, for example ``"the method name"``.

    Raises:
        ValueError: ``name`` is longer; the message names the limit.
    """
    if len(name) > limit:
        raise ValueError(
            f"{what} {name[:40]!r}... is {len(name)} characters long; the payment server "
            f"accepts names of at most {limit} characters, so no token could ever pay for it"
        )
    return name


def _template_pattern(template: str) -> re.Pattern[str]:
    """A regex for a path template: ``{name}`` is one segment, ``{name:path}`` the rest."""
    parts: list[str] = []
    end = 0
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[end : match.start()]))
        parts.append(".+" if match.group(2) else "[^/]+")
        end = match.end()
    parts.append(re.escape(template[end:]))
    return re.compile("".join(parts))


class NameMemo(dict[Hashable, str]):
    """Method names remembered under whatever key fully decides them; at most ``maxsize``.

    A ``dict``, so that ``memo.get`` is a C call on the adapters' hot paths.

    Raises:
        ValueError: ``maxsize`` is not a positive number.
    """

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int = 4096) -> None:
        super().__init__()
        if maxsize < 1:
            raise ValueError(f"maxsize must be a positive number of entries, not {maxsize!r}")
        self.maxsize = maxsize

    def remember(self, key: Hashable, name: str) -> str:
        """Keep ``name`` under ``key`` (forgetting the oldest entry when full); return it.

        Safe from several threads at once (WSGI servers name requests concurrently).
        """
        while len(self) >= self.maxsize:
            # Another thread may change the memo meanwhile (and evict this very entry): then
            # look again rather than fail the request.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del self[next(iter(self))]
        self[key] = name
        return name


class MethodNames:
    """Names the method a request calls.

    The name is, in order: the ``methods`` option's (a mapping or a callable); the route's name
    where the framework knows it; the path's last segment (``"index"`` for ``/``).

    Args:
        methods: a mapping from path templates (``"/items/{id}"``, or with an HTTP method,
            ``"POST /items"``) to method names, or a callable ``(http_method, path)`` that
            returns a name or ``None`` for the default.
        maxsize: the most (HTTP method, path) pairs :meth:`resolve` remembers.

    Raises:
        ValueError: a template or a name is not acceptable (a name longer than
            :data:`MAX_METHOD_NAME_LENGTH` included).

    Example::

        >>> names = MethodNames({"/items/{id}": "getItem", "POST /items": "addItem"})
        >>> names.resolve("GET", "/items/42"), names.resolve("POST", "/items")
        ('getItem', 'addItem')
    """

    __slots__ = ("_call", "_memo", "_templates")

    def __init__(self, methods: MethodMap | None = None, *, maxsize: int = 4096) -> None:
        self._memo = NameMemo(maxsize)
        self._call: Callable[[str, str], str | None] | None = None
        self._templates: list[tuple[str | None, re.Pattern[str], str]] = []
        if methods is None:
            return
        if isinstance(methods, Mapping):
            self._templates = _parse_templates(methods)
        elif callable(methods):
            self._call = methods
        else:
            raise ValueError(
                "methods must be a mapping like {'/items/{id}': 'getItem', 'POST /items': "
                "'addItem'} or a callable"
                f" (http_method, path) -> name, not {methods!r}"
            )

    def name(self, http_method: str, path: str, route_name: str | None = None) -> str:
        """The method's name for ``http_method`` and ``path``, remembering nothing.

        Args:
            route_name: the name of the route that will answer, if the framework knows it.

        Raises:
            ValueError: the ``methods`` callable returned something other than a name or
                ``None``. (A name too long to buy is returned: the adapter refuses it.)
        """
        return self.explicit(http_method, path) or route_name or last_segment(path)

    def cached(self, http_method: str, path: str) -> str | None:
        """The name :meth:`resolve` remembered for this request, or ``None``."""
        return self._memo.get((http_method, path))

    def resolve(self, http_method: str, path: str) -> str:
        """:meth:`name` without a route name, remembered per (HTTP method, path).

        Only for adapters whose names depend on nothing else: the ``methods`` callable is then
        called once per (HTTP method, path).
        """
        return self._memo.remember((http_method, path), self.name(http_method, path))

    def explicit(self, http_method: str, path: str) -> str | None:
        """The ``methods`` option's name for this request, or ``None`` to use the default.

        Raises:
            ValueError: the ``methods`` callable returned something other than a name or
                ``None``.
        """
        if self._call is not None:
            name = self._call(http_method, path)
            if name is not None and (not isinstance(name, str) or not name):
                raise ValueError(
                    f"the methods callable must return a method name or None, "
                    f"not {name!r} for {http_method} {path}"
                )
            return name
        for method, pattern, name in self._templates:
            if (method is None or method == http_method) and pattern.fullmatch(path):
                return name
        return None


def _parse_templates(methods: Mapping[str, str]) -> list[tuple[str | None, re.Pattern[str], str]]:
    specific: list[tuple[str | None, re.Pattern[str], str]] = []
    generic: list[tuple[str | None, re.Pattern[str], str]] = []
    for key, name in methods.items():
        http_method, _, template = key.rpartition(" ")
        if not isinstance(name, str) or not name:
            raise ValueError(f"methods[{key!r}] must be a non-empty method name, not {name!r}")
        check_name_length(name, what=f"methods[{key!r}], the method name")
        if not template.startswith("/") or (http_method and not http_method.isalpha()):
            raise ValueError(
                f"the keys of methods are path templates like '/items/{{id}}' or "
                f"'POST /items', not {key!r}"
            )
        entry = (http_method.upper() or None, _template_pattern(template), name)
        (specific if http_method else generic).append(entry)
    # A template that names its HTTP method wins over one that does not.
    return specific + generic


def last_segment(path: str) -> str:
    """The default method name: the path's last segment, or ``"index"`` for ``/``."""
    return path.rstrip("/").rpartition("/")[2] or "index"
