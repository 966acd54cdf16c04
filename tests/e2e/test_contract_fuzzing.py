"""Contract fuzzing: schemathesis against a live ``paycheck-server`` (issue 7).

Both contracts drive it: ours (``docs/openapi/*.yml``) and the seed's (the copy in
``tests/contract/seed/``, kept identical to ``../shared/seed/``). For every operation of each,
schemathesis generates :data:`EXAMPLES` valid requests and :data:`EXAMPLES` invalid ones
(wrong types, missing fields, ...) and sends them to a real server process. Every answer must:

- not be a 5xx;
- conform to the contract's schema for its status (and, for our contract, have a documented
  status; the seed's list of statuses predates 402, 405 and 413, which ours documents);
- when it is a 4xx, carry a ``{"description": "..."}`` body.

Random strings rarely name a real service or artifact, so in a valid request each field may
be swapped for a real value (a catalog name, today's date, a paid or unpaid bill's artifact,
a working token): the fuzzing then reaches the 200 answers and their schemas too.

Hypothesis is derandomized (schemathesis still varies some of its own choices from run to
run); set ``PAYCHECK_FUZZ_EXAMPLES`` to try more, and ``PAYCHECK_FUZZ_RANDOM=1`` to let
Hypothesis pick new examples too. The requests per operation and the statuses they got are
printed (``pytest -s -k fuzz``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("PAYCHECK_FUZZ_EXAMPLES", "50"))
RANDOM = os.environ.get("PAYCHECK_FUZZ_RANDOM", "") == "1"


# The repository's copy of the seed contract (tests/test_repository.py keeps it identical to
# ../shared/seed wherever that is present).
SEED = ROOT / "tests" / "contract" / "seed"

CONTRACTS = {
    "ours/client.yml": ROOT / "docs" / "openapi" / "client.yml",
    "ours/service.yml": ROOT / "docs" / "openapi" / "service.yml",
    "seed/client.yml": SEED / "client.yml",
    "seed/service.yml": SEED / "service.yml",
}


def operations() -> list[Any]:
    cases = []
    for name, path in CONTRACTS.items():
        schema = schemathesis.openapi.from_path(path)
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()  # the contract itself is broken
            label = result.ok().label
            cases.append(pytest.param(name, label, id=f"{name} {label}"))
    return cases


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """The server, with a fast feed heartbeat.

    Schemathesis reads an endless event stream (``GET /token/events``) until 20 messages came
    or the request's timeout passed: at the default 2 s heartbeat, 30 s per request.
    """
    return live_server_factory(feed_heartbeat_seconds=0.02)


def real_values(url: str) -> dict[str, list[Any]]:
    """Values of the request fields that the live server knows, to mix into valid requests."""
    today = datetime.now(UTC).date()
    day = today.isoformat()
    with httpx.Client(base_url=url, timeout=30) as http:

        def artifact() -> str:
            bill = {"serviceName": "Online marketplace", "dateFrom": day, "dateTo": day}
            value: str = http.post("/bill", json=bill).json()["paymentArtifact"]
            return value

        paid, unpaid = artifact(), artifact()
        token = http.post("/pay", json={"paymentArtifact": paid}).json()["token"]
    return {
        "serviceName": ["Online marketplace", "Weather"],
        "methods": [["getInfo"], ["getInfo", "search"], ["getForecast"]],
        "dateFrom": [day],
        "dateTo": [day, (today + timedelta(days=30)).isoformat()],
        "paymentArtifact": [paid, unpaid],
        "token": [token],
        "methodName": ["getInfo", "search", "getForecast"],
    }


def assert_description_on_4xx(response: Any) -> None:
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body, dict), response.text
        assert isinstance(body.get("description"), str), response.text
        assert body["description"], response.text


@pytest.mark.parametrize(("contract", "label"), operations())
def test_fuzzed_requests_get_no_5xx_and_conforming_answers(
    live_server: LiveServer, contract: str, label: str
) -> None:
    schema = schemathesis.openapi.from_path(CONTRACTS[contract])
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    checks = [not_a_server_error, response_schema_conformance]
    if contract.startswith("ours/"):
        checks.append(status_code_conformance)
    known = real_values(live_server.url)
    tried: Counter[str] = Counter()
    statuses: Counter[int] = Counter()

    def run(mode: GenerationMode) -> None:
        @hypothesis.settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,
            derandomize=not RANDOM,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        def fuzz(case: schemathesis.Case[Any], data: st.DataObject) -> None:
            if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
                for name in sorted(case.body.keys() & known.keys()):
                    if data.draw(st.integers(0, 3)):  # three times in four
                        case.body[name] = data.draw(st.sampled_from(known[name]))
            tried[mode.value] += 1

            response = case.call(base_url=live_server.url, timeout=30)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=checks)
            assert_description_on_4xx(response)

        fuzz()

    run(GenerationMode.POSITIVE)
    raw = operation.definition.raw
    if "requestBody" in raw or "parameters" in raw:  # else no request can be invalid
        run(GenerationMode.NEGATIVE)

    print(  # the figures docs/reliability.md records
        f"\nfuzz[{contract} {label}]: {tried['positive']} valid + {tried['negative']} invalid "
        f"requests; statuses {dict(sorted(statuses.items()))}"
    )
    assert tried["positive"] > 0
