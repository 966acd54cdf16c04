"""``paycheck``: the client command of the payment server.

Installed with the ``cli`` extra (``pip install "paycheck-suite[cli]"``), which brings Typer and
Rich; :mod:`paycheck_core` itself never needs them. Without them, ``paycheck`` says which extra
to install and exits with code 2.

Example::

    $ paycheck services
    $ paycheck bill "Online marketplace" --from tomorrow --to 2026-12-31 --save artifact.txt
    $ paycheck pay --artifact-file artifact.txt
    $ paycheck check pct_... --service "Online marketplace" --method getInfo

Exit codes: 0 ok, 1 access denied (``check`` only), 2 usage or server error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["MISSING_EXTRA", "main"]

MISSING_EXTRA = 'paycheck needs Typer and Rich: pip install "paycheck-suite[cli]"'
"""The line printed when the ``cli`` extra is not installed."""

_EXTRA_MODULES = ("typer", "rich")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``paycheck`` and return its exit code (the console script exits with it).

    Args:
        argv: the arguments without the program name; ``sys.argv[1:]`` by default.

    Example::

        >>> main(["--version"])  # doctest: +SKIP
        paycheck 0.1.0
        0
    """
    try:
        from ._app import run
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in _EXTRA_MODULES:
            raise
        print(MISSING_EXTRA, file=sys.stderr)
        return 2
    return run(sys.argv[1:] if argv is None else argv)
