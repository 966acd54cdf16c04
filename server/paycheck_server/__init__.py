"""The reference payment server of Paycheck (``paycheck-server``)."""

from __future__ import annotations

__all__: list[str] = []
