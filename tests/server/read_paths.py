"""The two reads behind ``POST /token/check``, so that a test can run its checks through each.

``"fast"`` is the app as built (``paycheck_server.fastread``: ``sqlite3`` on a SQLite file,
an AUTOCOMMIT engine on PostgreSQL); ``"engine"`` reads through the server's SQLAlchemy
engine alone, as every other request does.
"""

from __future__ import annotations

from paycheck_server.fastread import TokenStateReads

from .conftest import Api

READ_PATHS = ("fast", "engine")


async def read_through(api: Api, path: str) -> None:
    """Make the app's checks read token states by ``path``."""
    store = api.app.state.paycheck.store
    if path == "engine":
        await store.reads.aclose()
        store.reads = TokenStateReads(store.engine, fast=False)
    else:
        assert path == "fast", path


def assert_read_through(api: Api, path: str) -> None:
    """Fail unless the app's checks did read by ``path``."""
    reads = api.app.state.paycheck.store.reads
    if path == "engine":
        assert (reads.fast, reads.sqlite_reader, reads.read_engine) == (False, None, None)
    elif reads.sqlite_reader is not None:
        assert reads.sqlite_reader.answered > 0
        assert reads.sqlite_reader.failed == 0
    else:
        assert reads.read_engine is not None
