"""Benchmark 2: what ``PaycheckWSGIMiddleware`` and the Flask extension add on a cache hit.

WSGI apps are called directly (``app(environ, start_response)``, the body read and closed as a
server would), with no server and no network: a bare WSGI app with and without
``PaycheckWSGIMiddleware``, and a one-view Flask app with and without the ``Paycheck``
extension. The validators' caches are warmed first, and the mocked payment server must see no
check while we measure. A Flask app with an empty ``before_request`` hook shows the floor of
any extension that checks requests before their view, as this one does.

Target: at most 3 µs added per request.

Run: ``python -m bench.wsgi_overhead [--quick] [--markdown PATH]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.test import EnvironBuilder

from paycheck_core.tokens import generate_token
from paycheck_integrations.flask import Paycheck
from paycheck_integrations.wsgi import PaycheckWSGIMiddleware

from ._harness import Table, VariantTimes, emit, interleaved, parse_args
from ._payments import MockPayments

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["main", "run"]

TARGET_US = 3.0


def bare_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The smallest useful WSGI app: ``200 ok``."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def flask_app() -> Flask:
    """A Flask app with one view, ``GET /getInfo`` answering ``ok``."""
    app = Flask("bench")

    @app.get("/getInfo")
    def get_info() -> str:
        return "ok"

    return app


def _nothing() -> None:
    return None


def _status(app: WSGIApplication, environ: WSGIEnvironment) -> str:
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return None

    body = app(dict(environ), start_response)
    b"".join(body)
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return statuses[0]


def _runner(app: WSGIApplication, environ: WSGIEnvironment) -> Callable[[int], None]:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    def many(n: int) -> None:
        for _ in range(n):
            # A fresh environ per request, as a server makes: the apps write into it.
            body = app(dict(environ), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return many


def run(*, quick: bool = False) -> list[Table]:
    """Measure the five apps and return the table."""
    number, repeats = (200, 3) if quick else (20_000, 9)
    token = generate_token()
    environ = EnvironBuilder(
        path="/getInfo", headers=[("Authorization", f"Bearer {token}")]
    ).get_environ()
    payments = MockPayments()
    paid_flask = flask_app()
    Paycheck(paid_flask, validator=payments.validator())
    hooked_flask = flask_app()
    hooked_flask.before_request(_nothing)
    apps: dict[str, WSGIApplication] = {
        "bare WSGI app": bare_app,
        "+ PaycheckWSGIMiddleware (cache hit)": PaycheckWSGIMiddleware(
            bare_app, validator=payments.validator()
        ),
        "bare Flask app": flask_app(),
        "+ Flask extension Paycheck (cache hit)": paid_flask,
        "+ an empty before_request hook (floor)": hooked_flask,
    }
    for name, app in apps.items():  # also warms both caches: one check each, then hits
        status = _status(app, environ)
        if status != "200 OK":
            raise RuntimeError(f"{name} answered {status}, not 200: the bench is broken")
    checks_before = payments.calls
    times = interleaved(
        {name: _runner(app, environ) for name, app in apps.items()},
        number=number,
        repeats=repeats,
    )
    if payments.calls != checks_before:
        raise RuntimeError("the payment server was asked while measuring cache hits")
    return [_table(times, number, repeats, list(apps))]


def _table(times: VariantTimes, number: int, repeats: int, names: Sequence[str]) -> Table:
    table = Table(
        "2. WSGI and Flask overhead on a cache hit (direct WSGI calls)",
        ["app", "µs/request", "added µs/request", "throughput vs bare"],
    )
    added: list[float] = []
    baselines = {names[0], names[2]}
    for index, name in enumerate(names):
        if name in baselines:
            table.add(name, times.of(name).format(1e6), "—", "1.00")
            continue
        bare = names[0] if index == 1 else names[2]
        cost = times.added(name, bare)
        added.append(cost.median * 1e6)
        table.add(
            name,
            times.of(name).format(1e6),
            cost.format(1e6),
            times.ratio(name, bare).format(digits=3),
        )
    met = all(value <= TARGET_US for value in added[:2])
    table.notes += [
        f"median [min, max] of {repeats} repeats of {number:,} requests each, variants interleaved",
        f"target: ≤ {TARGET_US:g} µs added: {'met' if met else 'MISSED'} "
        f"(WSGI {added[0]:.2f} µs, Flask {added[1]:.2f} µs)",
    ]
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    args = parse_args(__doc__.splitlines()[0], argv)
    emit(run(quick=args.quick), args.markdown)


if __name__ == "__main__":
    main()
