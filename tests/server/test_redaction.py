"""No token or artifact reaches a log line (issue 12): the filter, its installation, the config.

The real process is tested in ``tests/e2e/test_log_redaction.py``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter, DefaultFormatter

from paycheck_core import tokens
from paycheck_server import Settings, create_app
from paycheck_server.api.app import app_from_environment
from paycheck_server.redaction import (
    REDACTED,
    RedactSecrets,
    install_redaction,
    redact,
    redact_handlers,
)
from paycheck_server.serving import log_config

TOKEN = tokens.generate_token()
ARTIFACT = tokens.generate_artifact()
BAD_CHECKSUM = TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B")
TRUNCATED = ARTIFACT[:20]
SECRETS = [TOKEN, ARTIFACT, BAD_CHECKSUM, TRUNCATED]


def body(secret: str) -> str:
    return secret[len(tokens.TOKEN_PREFIX) :]


def leaks(text: str) -> list[str]:
    """The secrets of :data:`SECRETS` whose random part appears in ``text``."""
    return [secret for secret in SECRETS if body(secret)[:12] in text]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"GET /info?token={TOKEN} HTTP/1.1", f"GET /info?token=pct_{REDACTED} HTTP/1.1"),
        (f"/nope/{ARTIFACT}", f"/nope/pca_{REDACTED}"),
        (f"?t={BAD_CHECKSUM}&x=1", f"?t=pct_{REDACTED}&x=1"),
        (f"truncated {TRUNCATED}!", f"truncated pca_{REDACTED}!"),
        (f"?t=pct%5F{body(TOKEN)}", f"?t=pct_{REDACTED}"),
        (f"?t=pca%5f{body(ARTIFACT)}", f"?t=pca_{REDACTED}"),
        (f"?t=pct%255F{body(TOKEN)}", f"?t=pct_{REDACTED}"),
        (f"{TOKEN}{ARTIFACT}", f"pct_{REDACTED}pca_{REDACTED}"),
        (f"x{TOKEN},{TOKEN}", f"xpct_{REDACTED},pct_{REDACTED}"),
        (f"Bearer {TOKEN}\n", f"Bearer pct_{REDACTED}\n"),
    ],
)
def test_redact_hides_every_form_of_a_secret(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", ["pct_", "pca", "the pct_ prefix", "percent_value", "", "p"])
def test_redact_leaves_other_text_alone(text: str) -> None:
    assert redact(text) == text


def test_redact_is_idempotent() -> None:
    once = redact(f"{TOKEN} {ARTIFACT}")

    assert redact(once) == once


def record(msg: object, args: object = None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("test", logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]
    made.__dict__.update(extra)
    return made


def formatted(made: logging.LogRecord, formatter: logging.Formatter | None = None) -> str:
    assert RedactSecrets().filter(made) is True
    return (formatter or logging.Formatter("%(message)s")).format(made)


def test_an_access_log_record_keeps_its_shape_without_the_secret() -> None:
    made = record(
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/x?token={TOKEN}&a={ARTIFACT}", "1.1", 404),
    )

    line = formatted(
        made,
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False),
    )

    assert (
        line
        == f'127.0.0.1:5000 - "GET /x?token=pct_{REDACTED}&a=pca_{REDACTED} HTTP/1.1" 404 Not Found'
    )


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        pytest.param(f"token {TOKEN} refused", None, id="in the message"),
        pytest.param("token %s refused", (TOKEN,), id="str argument"),
        pytest.param("token %r refused", (BAD_CHECKSUM,), id="repr of a str argument"),
        pytest.param("got %s", (ValueError(f"bad {ARTIFACT}"),), id="exception argument"),
        pytest.param("got %r", ({"token": TRUNCATED},), id="repr of a dict argument"),
        pytest.param("got %s", (TOKEN.encode(),), id="bytes argument"),
        pytest.param("%(token)s and %(n)d", {"token": TOKEN, "n": 3}, id="mapping arguments"),
        pytest.param(ValueError(f"bad {TOKEN}"), None, id="an exception as the message"),
    ],
)
def test_the_filter_hides_secrets_in_messages_and_arguments(msg: object, args: object) -> None:
    line = formatted(record(msg, args))

    assert leaks(line) == []
    assert REDACTED in line


def test_numbers_keep_their_format() -> None:
    assert formatted(record("%d %.1f %s", (7, 2.5, None))) == "7 2.5 None"


def test_the_filter_hides_secrets_in_a_traceback_and_a_stack() -> None:
    try:
        raise RuntimeError(f"cannot use {TOKEN}")
    except RuntimeError:
        made = logging.LogRecord(
            "test",
            logging.ERROR,
            __file__,
            1,
            "failed",
            None,
            sys.exc_info(),
            sinfo=f"at {ARTIFACT}",
        )

    line = formatted(made)

    assert "RuntimeError: cannot use pct_" in line
    assert leaks(line) == []


def test_uvicorns_color_message_is_redacted_too() -> None:
    made = record(f"x {TOKEN}", color_message=f"colored {TOKEN}")

    line = formatted(made, DefaultFormatter("%(message)s", use_colors=True))

    assert leaks(line) == []


@pytest.fixture
def fresh_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("paycheck_server.test_redaction_child")
    yield logger
    logger.filters.clear()


@pytest.mark.parametrize(
    "name", ["uvicorn.access", "uvicorn.error", "paycheck_server", "paycheck_server.fastread"]
)
async def test_create_app_installs_the_filter_on_the_loggers(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    await app.state.paycheck.aclose()
    logger = logging.getLogger(name)
    # uvicorn's own loggers do not propagate once configured; capture on the logger itself.
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=name):
            logger.warning("request %s failed", f"/x?token={TOKEN}")
    finally:
        logger.removeHandler(caplog.handler)

    assert leaks(caplog.text) == []
    assert f"/x?token=pct_{REDACTED}" in caplog.text


def test_install_redaction_adds_one_filter_per_logger(fresh_logger: logging.Logger) -> None:
    install_redaction()
    install_redaction()

    assert sum(isinstance(item, RedactSecrets) for item in fresh_logger.filters) == 1


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def handled_logger() -> Iterator[tuple[logging.Logger, Collected]]:
    """A logger of its own with one handler, that no other test sees."""
    logger = logging.getLogger("test_redaction.handled")
    logger.propagate = False
    handler = Collected()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def test_a_handler_filter_covers_records_of_every_logger(
    handled_logger: tuple[logging.Logger, Collected],
) -> None:
    logger, handler = handled_logger
    child = logging.getLogger("test_redaction.handled.some.library")

    redact_handlers([logger.name])
    redact_handlers([logger.name])
    child.error("cannot use %s", TOKEN)

    assert sum(isinstance(item, RedactSecrets) for item in handler.filters) == 1
    assert handler.lines == [f"cannot use pct_{REDACTED}"]


async def test_the_served_app_puts_the_handlers_of_the_process_behind_the_filter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYCHECK_DATABASE_URL", "sqlite+aiosqlite:///:memory:")
    access = logging.getLogger("uvicorn.access")
    handler = Collected()
    access.addHandler(handler)
    try:
        app = app_from_environment()
        access.info('%s - "%s %s HTTP/%s" %d', "c", "GET", f"/?t={ARTIFACT}", "1.1", 200)
    finally:
        access.removeHandler(handler)
    await app.state.paycheck.aclose()

    assert any(isinstance(item, RedactSecrets) for item in handler.filters)
    assert leaks(" ".join(handler.lines)) == []


def test_the_log_config_names_nothing_of_the_server() -> None:
    # Every worker applies it before it answers the supervisor (tests/server/test_serving.py).
    config = log_config("debug")

    assert "paycheck" not in repr(config)
    assert config["root"] == {"handlers": ["default"], "level": "DEBUG"}
