"""No token or artifact sent to the real ``paycheck-server`` reaches its logs (issue 12).

A server logging at ``debug`` (access log on) gets requests that carry secrets where they
do not belong: in the query string, in the path, percent-encoded (``pct%5F...``, once and
twice), after a ``#``, in headers, in requests that fail with 400, 404, 405, 413, 414 and
431, in a request line uvicorn cannot parse. The secrets are a token and an artifact that
were really issued, random ones, one with a wrong checksum and a truncated one. Afterwards
nothing the server wrote on stdout or stderr holds any of them, while the access log does
show the requests, with ``pct_[redacted]`` in their place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from paycheck_core import PaycheckClient, tokens

from ._raw_http import exchange, request
from .conftest import LiveServer

pytestmark = pytest.mark.e2e

SERVICE = "Online marketplace"


def body_of(secret: str) -> str:
    return secret[len(tokens.TOKEN_PREFIX) :]


def cases(secret: str) -> list[tuple[str, bytes, int | None]]:
    """``(name, raw request, expected status or None)`` for every place a secret can go."""
    raw = secret.encode()
    prefix, body = raw[:3], body_of(secret).encode()
    padding = b"a" * (17 * 1024)
    check = b'{"token": "%s", "serviceName": "%s", "methodName": "getInfo"}' % (
        raw,
        SERVICE.encode(),
    )
    return [
        ("query", request(b"/healthz?token=" + raw), 200),
        ("query, second parameter", request(b"/services?page=1&artifact=" + raw), 200),
        ("path", request(b"/nope/" + raw), 404),
        ("whole path", request(b"/" + raw), 404),
        ("path and non-ASCII", request(b"/%C3%A9/" + raw), 404),
        ("percent-encoded path", request(b"/" + prefix + b"%5F" + body), 404),
        ("percent-encoded query", request(b"/healthz?t=" + prefix + b"%5f" + body), 200),
        ("encoded twice", request(b"/healthz?t=" + prefix + b"%255F" + body), 200),
        ("fragment", request(b"/healthz#" + raw), 200),
        ("headers", request(b"/healthz", [b"Authorization: Bearer " + raw, b"X-T: " + raw]), 200),
        ("400", request(b"/token/check?token=" + raw, method=b"POST", body=b"{not json"), 400),
        ("check", request(b"/token/check?t=" + raw, method=b"POST", body=check), None),
        ("405", request(b"/bill?token=" + raw), 405),
        ("413", request(b"/bill?artifact=" + raw, method=b"POST", body=b"x" * 70_000), 413),
        ("414", request(b"/healthz?token=" + raw + b"&pad=" + padding), 414),
        ("431", request(b"/healthz?token=" + raw, [b"X-Pad: " + padding]), 431),
        ("invalid request line", request(b"/" + raw, version=b"HTTP/1.1 junk"), 400),
    ]


@pytest.fixture(params=[1, 2], ids=["1 worker", "2 workers"])
def server(
    request: pytest.FixtureRequest, live_server_factory: Callable[..., LiveServer]
) -> LiveServer:
    return live_server_factory(log_level="debug", workers=request.param)


def test_no_secret_sent_anywhere_in_a_request_is_logged(server: LiveServer) -> None:
    today = datetime.now(UTC).date()
    with PaycheckClient(server.url) as client:
        artifact = client.create_bill(SERVICE, today, today, ["getInfo"]).payment_artifact
        token = client.pay(artifact).token
    random_token = tokens.generate_token()
    secrets = [
        token,
        artifact,
        random_token,
        tokens.generate_artifact(),
        random_token[:-1] + ("0" if random_token[-1] != "0" else "1"),  # wrong checksum
        tokens.generate_artifact()[:30],  # truncated
    ]

    statuses = {}
    for secret in secrets:
        for name, data, _ in cases(secret):
            statuses[name, secret] = exchange(server.port, data).status
    server.stop()  # every worker has written and flushed its log
    log = server.log_text()

    expected = {
        (name, secret): status
        for secret in secrets
        for name, _, status in cases(secret)
        if status is not None
    }
    assert {case: statuses[case] for case in expected} == expected
    leaked = [secret for secret in secrets if body_of(secret)[:12] in log]
    assert leaked == []
    # The requests were logged, with the secrets redacted.
    for line in [
        '"POST /token/check?t=pct_[redacted] HTTP/1.1" 200',
        '"POST /token/check?t=pct_[redacted] HTTP/1.1" 401',
        '"GET /healthz?token=pct_[redacted] HTTP/1.1" 200',
        '"GET /nope/pca_[redacted] HTTP/1.1" 404',
        '"GET /pct_[redacted] HTTP/1.1" 404',
        '"POST /token/check?token=pct_[redacted] HTTP/1.1" 400',
        '"GET /bill?token=pca_[redacted] HTTP/1.1" 405',
        '"POST /bill?artifact=pct_[redacted] HTTP/1.1" 413',
    ]:
        assert line in log
