"""``python -m paycheck_core.cli``: the same as the ``paycheck`` command."""

from __future__ import annotations

from . import main

raise SystemExit(main())
