"""Keep tokens and payment artifacts out of every log line.

A client that puts its token in a URL (``/anything?token=pct_...``) makes the server log it:
uvicorn's access log writes every request line, and error messages may quote what they got.
:class:`RedactSecrets` is a :class:`logging.Filter` that rewrites a record before any handler
formats it: every run of characters that looks like a secret of :mod:`paycheck_core.tokens`
(``pct_`` or ``pca_`` followed by base62, also percent-encoded as ``pct%5F...``, also
truncated or with a wrong checksum) becomes ``pct_[redacted]``. It looks at the message, its
arguments, the formatted exception and the stack.

:func:`~paycheck_server.create_app` installs it on the loggers of uvicorn and of the server
(:func:`install_redaction`), so that a program that embeds the app redacts too; the app that
``paycheck-server`` serves also puts every log handler of the process behind it
(:func:`redact_handlers`), which covers the records of every other logger.

Example::

    >>> redact("GET /info?token=pct_3sZ0gVq7w3W9pYQ1kAWr8mCkQe0Fh1kWcX0yq3mWbZr0Ek4Jp1")
    'GET /info?token=pct_[redacted]'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from paycheck_core.tokens import ARTIFACT_PREFIX, TOKEN_PREFIX

__all__ = ["REDACTED", "RedactSecrets", "install_redaction", "redact", "redact_handlers"]

REDACTED = "[redacted]"
"""What replaces the body of a secret in a log line."""

# The prefixes without their "_", which may reach a log percent-encoded once or more
# (%5F, %255F, ...). Whatever base62 follows is hidden, whatever its length or checksum: a
# truncated or mistyped token still gives most of itself away. The body stops where another
# prefix starts, so that two secrets written end to end are both found.
_STEMS = "|".join(re.escape(prefix.rstrip("_")) for prefix in (TOKEN_PREFIX, ARTIFACT_PREFIX))
_UNDERSCORE = "(?:_|%(?:25)*5[Ff])"
_SECRET = re.compile(f"({_STEMS}){_UNDERSCORE}(?:(?!(?:{_STEMS}){_UNDERSCORE})[0-9A-Za-z])+")
_QUICK = re.compile(f"(?:{_STEMS})[_%]")

# Loggers that see request lines, paths or error messages. Logger filters apply only to the
# records logged on that very logger, so the server's own child loggers are added by prefix.
_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "paycheck_server")
# The loggers with handlers in paycheck-server's logging configuration ("" is the root logger).
_HANDLING_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """``text`` with the body of every token and artifact replaced by ``[redacted]``."""
    if _QUICK.search(text) is None:
        return text
    return _SECRET.sub(lambda match: f"{match[1]}_{REDACTED}", text)


class _Redacted:
    """Stands for a log argument whose ``str`` or ``repr`` held a secret."""

    __slots__ = ("_repr", "_str")

    def __init__(self, value: object) -> None:
        self._str = redact(str(value))
        self._repr = redact(repr(value))

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return self._repr


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    # Numbers keep their type for %d and %f; they never hold a secret.
    if value is None or isinstance(value, int | float):
        return value
    try:
        text, representation = str(value), repr(value)
    except Exception:
        return value
    if redact(text) == text and redact(representation) == representation:
        return value
    return _Redacted(value)


_DONE = "paycheck_redacted"  # set on a record once this filter has rewritten it


class RedactSecrets(logging.Filter):
    """A logging filter that hides tokens and artifacts; it never drops a record.

    Install it on handlers (it then sees every record they write) or on loggers (it sees
    the records logged on that logger only)::

        handler.addFilter(RedactSecrets())

    In a :func:`logging.config.dictConfig` configuration::

        "filters": {"redact": {"()": "paycheck_server.redaction.RedactSecrets"}}
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place without its secrets; always keep it.

        A record is rewritten once: under ``paycheck-server`` a record passes this filter on
        its logger and again on the handler that writes it (every access-log line does).
        """
        if record.__dict__.get(_DONE):
            return True
        record.__dict__[_DONE] = True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        else:
            record.msg = _clean(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _clean(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_clean(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: the redacted text is what they print.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        color_message = record.__dict__.get("color_message")
        if isinstance(color_message, str):
            record.__dict__["color_message"] = redact(color_message)
        return True


def install_redaction(names: Iterable[str] | None = None) -> None:
    """Add :class:`RedactSecrets` to loggers, once each.

    Args:
        names: the loggers; by default uvicorn's and every ``paycheck_server`` logger that
            exists when it is called.
    """
    if names is None:
        existing = [
            name
            for name in logging.root.manager.loggerDict
            if name.startswith(("paycheck_server.", "uvicorn."))
        ]
        names = [*_LOGGERS, *existing]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(item, RedactSecrets) for item in logger.filters):
            logger.addFilter(RedactSecrets())


def redact_handlers(names: Iterable[str] = _HANDLING_LOGGERS) -> None:
    """Add :class:`RedactSecrets` to every handler of loggers, once each.

    A handler's filter sees every record the handler writes, whatever logger it comes from.

    Args:
        names: the loggers whose handlers to cover; by default the root logger and uvicorn's,
            which hold the handlers of ``paycheck-server``'s logging configuration.
    """
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(item, RedactSecrets) for item in handler.filters):
                handler.addFilter(RedactSecrets())
