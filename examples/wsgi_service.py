"""A bare WSGI service (standard library only) whose every path needs a paid Paycheck token.

Run it next to a payment server (``paycheck-server``)::

    python3 wsgi_service.py --port 8004

It sells the demo catalog's "Online marketplace": ``getInfo``, ``search`` and ``placeOrder``;
the method name is the path's last segment. The payment server is read from
``PAYCHECK_SERVER_URL`` (default ``http://127.0.0.1:8000``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from paycheck_integrations.wsgi import GRANT_KEY, PaycheckWSGIMiddleware

SERVICE = "Online marketplace"
SERVER_URL = os.environ.get("PAYCHECK_SERVER_URL", "http://127.0.0.1:8000")

ITEMS = {1: "kettle", 2: "teapot", 3: "mug"}  # item id -> name


def shop(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The service itself: it knows nothing about tokens."""
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if (method, path) == ("GET", "/getInfo"):
        grant = environ[GRANT_KEY]
        status, body = (
            "200 OK",
            {"service": SERVICE, "items": len(ITEMS), "paidUntil": str(grant.paid_until)},
        )
    elif (method, path) == ("GET", "/search"):
        word = query.get("q", [""])[0].lower()
        status, body = (
            "200 OK",
            {"results": [{"id": id_, "name": name} for id_, name in ITEMS.items() if word in name]},
        )
    elif (method, path) == ("POST", "/placeOrder"):
        status, body = (
            "200 OK",
            {"ordered": int(query.get("item_id", ["1"])[0]), "status": "accepted"},
        )
    else:
        status, body = "404 Not Found", {"description": f"No such method: {method} {path}"}
    payload = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


# The one line: every path now needs "Authorization: Bearer <token>" for its last segment.
app = PaycheckWSGIMiddleware(shop, service=SERVICE, server_url=SERVER_URL)


def main() -> None:
    """Serve ``app`` with wsgiref until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8004)
    options = parser.parse_args()
    with app, make_server(options.host, options.port, app) as server:
        print(f"{SERVICE} (WSGI) on http://{options.host}:{options.port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
            server.serve_forever()


if __name__ == "__main__":
    main()
