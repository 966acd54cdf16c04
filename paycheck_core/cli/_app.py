"""The ``paycheck`` commands: parse the command line, call the payment server, show the result.

Everything that can be decided without I/O lives in :mod:`._inputs` (what was typed) and
:mod:`._render` (what is shown); this module is the thin edge between them, the terminal and
:class:`~paycheck_core.PaycheckClient`. Tests replace :func:`_transport` to talk to a mocked
server instead of the network.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, RenderableType
from rich.text import Text

from .. import __version__, tokens
from .._client import PaycheckClient
from .._exceptions import PaycheckError
from .._models import AccessDecision
from . import _render
from ._files import ArtifactFile, read_secret
from ._inputs import (
    InputError,
    check_artifact,
    check_idempotency_key,
    check_period,
    normalize_card,
    parse_day,
)

__all__ = ["DEFAULT_SERVER_URL", "app", "run"]

DEFAULT_SERVER_URL = "http://127.0.0.1:8000"

EXIT_OK = 0
EXIT_DENIED = 1
EXIT_ERROR = 2


class CommandError(Exception):
    """A command cannot go on; the message is the one line shown after ``error:``."""


# Usage errors (missing option, unknown command) are Click's ClickException: vendored inside
# Typer since 0.26, Click's own before. typer.BadParameter is public in both and derives from it.
_USAGE_ERROR: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
)


def _transport() -> httpx.BaseTransport | None:
    """The client's transport: ``None`` is httpx's own (the network); tests return a mock."""
    return None


def _today() -> date:
    """The current UTC day: the server counts paid days in UTC."""
    return datetime.now(UTC).date()


app = typer.Typer(
    name="paycheck",
    help="Buy and manage access to Paycheck services: see the catalog, get a bill, pay it, "
    "get and reset the access token, check a token.",
    epilog="Exit codes: 0 ok, 1 access denied (check), 2 usage or server error.",
    add_completion=False,
    no_args_is_help=True,
    # A traceback with locals could print an artifact or a token.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Server = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="PAYCHECK_SERVER_URL",
        metavar="URL",
        help="The payment server's URL.",
    ),
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (for scripts) instead of text.")
]
Artifact = Annotated[
    str | None,
    typer.Argument(
        metavar="[ARTIFACT]",
        help="The payment artifact printed by 'paycheck bill' (pca_...); - reads it from stdin.",
        show_default=False,
    ),
]
IdempotencyKeyOption = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        metavar="KEY",
        help="Repeating the command with the same KEY answers as the first time, without a "
        "second bill or charge. A secret: a random UUID is made when omitted, and shown if "
        "the server does not answer.",
    ),
]
ArtifactFileOption = Annotated[
    str | None,
    typer.Option(
        "--artifact-file",
        metavar="FILE",
        help="Read the payment artifact from FILE (as written by 'paycheck bill --save'); "
        "- is stdin.",
    ),
]


# --- plumbing --------------------------------------------------------------------------------


@contextmanager
def _client(server: str, command: str) -> Iterator[PaycheckClient]:
    """A client of ``server``; SDK exceptions leave as a :class:`CommandError` with one line."""
    if not server.startswith(("http://", "https://")):
        raise CommandError(f"--server must be an http:// or https:// URL, not {server!r}")
    with PaycheckClient(server, transport=_transport()) as client:
        try:
            yield client
        except PaycheckError as exc:
            message = _render.describe_failure(exc, server=client.base_url, command=command)
            raise CommandError(message) from exc


def _show(as_json: bool, document: dict[str, Any], view: Sequence[RenderableType]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    console = Console(highlight=False)
    for renderable in view:
        # soft_wrap: a secret must stay one line to be copied whole, whatever the width.
        console.print(renderable, soft_wrap=isinstance(renderable, Text))


def _error(message: str) -> None:
    line = " ".join(message.split())
    Console(stderr=True, highlight=False).print(
        Text.assemble(("error: ", "bold red"), line), soft_wrap=True
    )


def _artifact(value: str | None, file: str | None) -> str:
    if value is not None and file is not None:
        raise CommandError(
            "give the payment artifact as an argument or with --artifact-file, not both"
        )
    if file is not None:
        source = "stdin" if file == "-" else str(file)
        return check_artifact(read_secret(file, stdin=sys.stdin), source=source)
    if value == "-":
        return check_artifact(read_secret("-", stdin=sys.stdin), source="stdin")
    if value is None:
        raise CommandError(
            "missing the payment artifact: give it as an argument, - to read it from stdin, "
            "or --artifact-file FILE"
        )
    return check_artifact(value, source="the ARTIFACT argument")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"paycheck {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Buy and manage access to Paycheck services."""


# --- commands --------------------------------------------------------------------------------


@app.command()
def services(server: Server = DEFAULT_SERVER_URL, as_json: AsJson = False) -> None:
    """List the catalog: every service, its methods and their prices per day."""
    with _client(server, "services") as client:
        catalog = client.list_services()
    _show(as_json, _render.services_document(catalog), _render.services_view(catalog))


@app.command()
def bill(
    service: Annotated[
        str,
        typer.Argument(metavar="SERVICE", help="The service's name, as 'paycheck services' shows."),
    ],
    date_from: Annotated[
        str,
        typer.Option(
            "--from", metavar="DATE", help="First paid day: YYYY-MM-DD, today or tomorrow."
        ),
    ],
    date_to: Annotated[
        str, typer.Option("--to", metavar="DATE", help="Last paid day (included), same forms.")
    ],
    methods: Annotated[
        list[str] | None,
        typer.Option(
            "--method", "-m", metavar="NAME", help="A method to buy; repeat for more. Default: all."
        ),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            metavar="FILE",
            help="Write the payment artifact to FILE (new, mode 0600) instead of printing it.",
        ),
    ] = None,
    idempotency_key: IdempotencyKeyOption = None,
    server: Server = DEFAULT_SERVER_URL,
    as_json: AsJson = False,
) -> None:
    """Make a bill for SERVICE and show its total and payment artifact (shown only once).

    Example: paycheck bill "Online marketplace" --from tomorrow --to 2026-12-31 --save artifact.txt
    """
    today = _today()
    start = parse_day(date_from, today=today, option="--from")
    end = parse_day(date_to, today=today, option="--to")
    check_period(start, end)
    key = check_idempotency_key(idempotency_key)
    target = ArtifactFile.create(save) if save is not None else None
    try:
        with _client(server, "bill") as client:
            made = client.create_bill(service, start, end, methods or None, idempotency_key=key)
    except BaseException:
        if target is not None:
            target.discard()
        raise
    saved_to, failure = None, None
    if target is not None:
        try:
            target.write(made.payment_artifact)
            saved_to = str(target.path)
        except OSError as exc:
            # The server never shows this artifact again: print it rather than lose it.
            target.path.unlink(missing_ok=True)
            failure = f"--save: could not write {target.path}: {exc.strerror}; the artifact is "
            failure += "printed above instead"
    _show(
        as_json,
        _render.bill_document(made, saved_to=saved_to),
        _render.bill_view(made, saved_to=saved_to),
    )
    if failure is not None:
        raise CommandError(failure)


@app.command()
def pay(
    artifact: Artifact = None,
    artifact_file: ArtifactFileOption = None,
    card: Annotated[
        str | None,
        typer.Option(
            "--card", metavar="NUMBER", help="The card to charge (the sandbox takes test cards)."
        ),
    ] = None,
    idempotency_key: IdempotencyKeyOption = None,
    server: Server = DEFAULT_SERVER_URL,
    as_json: AsJson = False,
) -> None:
    """Pay the bill of a payment artifact and show the access token.

    Paying an already paid bill charges nothing and shows a new token.
    """
    secret = _artifact(artifact, artifact_file)
    number = normalize_card(card)
    key = check_idempotency_key(idempotency_key)
    with _client(server, "pay") as client:
        payment = client.pay(secret, card=number, idempotency_key=key)
    _show(as_json, _render.payment_document(payment), _render.payment_view(payment))


@app.command()
def info(
    artifact: Artifact = None,
    artifact_file: ArtifactFileOption = None,
    server: Server = DEFAULT_SERVER_URL,
    as_json: AsJson = False,
) -> None:
    """Show what a paid bill gives access to, and until when."""
    secret = _artifact(artifact, artifact_file)
    with _client(server, "info") as client:
        payment = client.payment_info(secret)
    _show(as_json, _render.info_document(payment), _render.info_view(payment))


@app.command()
def reset(
    artifact: Artifact = None,
    artifact_file: ArtifactFileOption = None,
    server: Server = DEFAULT_SERVER_URL,
    as_json: AsJson = False,
) -> None:
    """Issue a new access token; the previous one stops after a short grace period."""
    secret = _artifact(artifact, artifact_file)
    with _client(server, "reset") as client:
        token = client.reset_token(secret)
    _show(as_json, _render.reset_document(token), _render.reset_view(token))


@app.command()
def check(
    token: Annotated[
        str,
        typer.Argument(metavar="TOKEN", help="The access token (pct_...); - reads it from stdin."),
    ],
    service: Annotated[str, typer.Option("--service", "-s", help="The service to ask about.")],
    method: Annotated[str, typer.Option("--method", "-m", help="The method to ask about.")],
    server: Server = DEFAULT_SERVER_URL,
    as_json: AsJson = False,
) -> None:
    """Check whether TOKEN gives access to a method of a service.

    Exit code 0 when allowed, 1 when denied, 2 when the check could not be made.
    """
    secret = (read_secret("-", stdin=sys.stdin) if token == "-" else token).strip()
    if not tokens.is_well_formed(secret, prefix=tokens.TOKEN_PREFIX):
        # As the validators do: a malformed token is denied without asking the server.
        decision = AccessDecision(
            allowed=False,
            status=401,
            service=service,
            method=method,
            reason="the token is malformed: it is not a whole Paycheck access token (pct_...)",
        )
    else:
        with _client(server, "check") as client:
            decision = client.check_token(secret, service, method)
    _show(as_json, _render.decision_document(decision), _render.decision_view(decision))
    if not decision.allowed:
        raise typer.Exit(EXIT_DENIED)


# --- entry -----------------------------------------------------------------------------------


def run(argv: Sequence[str]) -> int:
    """Run ``paycheck`` with ``argv`` (without the program name) and return the exit code.

    Every failure is one line on stderr, ``error: ...``, and exit code 2.
    """
    command = typer.main.get_command(app)
    try:
        result = command.main(
            args=list(argv) or ["--help"], prog_name="paycheck", standalone_mode=False
        )
    except (CommandError, InputError) as exc:
        _error(str(exc))
        return EXIT_ERROR
    except _USAGE_ERROR as exc:
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None else "paycheck"
        _error(f"{getattr(exc, 'format_message', exc.__str__)()} See '{where} --help'.")
        return EXIT_ERROR
    except typer.Abort:
        _error("aborted")
        return EXIT_ERROR
    return result if isinstance(result, int) else EXIT_OK
