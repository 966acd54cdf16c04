"""Naming the method a request calls (the seed's ``methodName``), and the limits on names.

No web framework and no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeAlias

__all__ = [
    "MAX_METHOD_NAME_LENGTH",
    "MAX_SERVICE_NAME_LENGTH",
    "MethodMap",
    "MethodNames",
    "check_name_length",
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


class MethodNames:
    """Names the method a request calls, remembering the answer per (HTTP method, path).

    The name is, in order: the ``methods`` option's (a mapping or a callable); the route's name
    where the framework knows it; the path's last segment (``"index"`` for ``/``).

    Args:
        methods: a mapping from path templates (``"/items/{id}"``, or with an HTTP method,
            ``"POST /items"``) to method names, or a callable ``(http_method, path)`` that
            returns a name or ``None`` for the default. A callable is called once per
            (HTTP method, path): its answers are remembered.
        maxsize: the most (HTTP method, path) pairs remembered; the oldest go first.

    Raises:
        ValueError: a template or a name is not acceptable (a name longer than
            :data:`MAX_METHOD_NAME_LENGTH` included).

    Example::

        >>> names = MethodNames({"/items/{id}": "getItem", "POST /items": "addItem"})
        >>> names.resolve("GET", "/items/42"), names.resolve("POST", "/items")
        ('getItem', 'addItem')
    """

    __slots__ = ("_call", "_maxsize", "_memo", "_templates")

    def __init__(self, methods: MethodMap | None = None, *, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be a positive number of entries, not {maxsize!r}")
        self._maxsize = maxsize
        self._memo: dict[tuple[str, str], str] = {}
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

    def cached(self, http_method: str, path: str) -> str | None:
        """The name remembered for this request, or ``None`` on the first sight of it."""
        return self._memo.get((http_method, path))

    @property
    def lookup(self) -> Callable[[tuple[str, str]], str | None]:
        """:meth:`cached` as a bound ``dict.get`` of ``(http_method, path)``, for hot paths.

        Calling it costs no Python frame; bind it once (``lookup = names.lookup``).
        """
        return self._memo.get

    def resolve(self, http_method: str, path: str, route_name: str | None = None) -> str:
        """Name the method for ``http_method`` and ``path`` and remember it.

        Args:
            route_name: the route's name if the framework knows it.
        """
        name = self._explicit(http_method, path) or route_name or _last_segment(path)
        memo = self._memo
        if len(memo) >= self._maxsize:
            del memo[next(iter(memo))]
        memo[(http_method, path)] = name
        return name

    def _explicit(self, http_method: str, path: str) -> str | None:
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


def _last_segment(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2] or "index"
