"""conftest.py: the catalog the session's payment server sells (the demo one when omitted)."""

from typing import Any

import pytest


@pytest.fixture(scope="session")
def paycheck_catalog() -> dict[str, Any]:
    # Or the path of a TOML or JSON catalog file, as paycheck-server --catalog reads it.
    return {
        "services": [
            {
                "name": "Online marketplace",
                "methods": [
                    {"name": "getInfo", "price_per_day": "1.20"},
                    {"name": "placeOrder", "price_per_day": "4.99"},
                    {"name": "reindex", "price_per_day": "0", "private": True},
                ],
            }
        ]
    }
