"""``python -m paycheck_server``: the same as the ``paycheck-server`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
