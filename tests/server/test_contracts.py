"""docs/openapi/: generated from the app, fresh, and a superset of the seed's contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from paycheck_server import Settings, create_app
from paycheck_server import openapi as contracts

ROOT = Path(__file__).resolve().parents[2]
# The repository's copy of the seed contract; tests/test_repository.py keeps it identical to
# ../shared/seed wherever that is present.
SEED = ROOT / "tests" / "contract" / "seed"
OURS = ROOT / "docs" / "openapi"


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def object_schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(document, schema)
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return object_schema(document, option)
    return schema


def compare(
    seed: dict[str, Any],
    seed_schema: dict[str, Any],
    ours: dict[str, Any],
    our_schema: dict[str, Any],
    where: str,
    *,
    request: bool,
) -> list[str]:
    problems = []
    seed_schema = object_schema(seed, seed_schema)
    our_schema = object_schema(ours, our_schema)
    if seed_schema.get("type") == "array":
        return compare(
            seed, seed_schema["items"], ours, our_schema["items"], f"{where}[]", request=request
        )
    seed_required = set(seed_schema.get("required", []))
    our_required = set(our_schema.get("required", []))
    if request and our_required - seed_required:
        problems.append(f"{where}: we require {sorted(our_required - seed_required)}")
    if seed_required - our_required:
        problems.append(f"{where}: {sorted(seed_required - our_required)} not required")
    for name, field in seed_schema.get("properties", {}).items():
        if name not in our_schema.get("properties", {}):
            problems.append(f"{where}: field {name} is missing")
            continue
        problems += compare(
            seed, field, ours, our_schema["properties"][name], f"{where}.{name}", request=request
        )
    return problems


def superset_problems(seed: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    problems = []
    for path, operations in seed["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            mine = ours["paths"].get(path, {}).get(method)
            if mine is None:
                problems.append(f"{where} is missing")
                continue
            seed_body = operation["requestBody"]["content"]["application/json"]["schema"]
            our_body = mine["requestBody"]["content"]["application/json"]["schema"]
            problems += compare(seed, seed_body, ours, our_body, where, request=True)
            for status, answer in operation["responses"].items():
                if str(status) not in mine["responses"]:
                    problems.append(f"{where}: status {status} is missing")
                    continue
                seed_schema = answer["content"]["application/json"]["schema"]
                our_schema = mine["responses"][str(status)]["content"]["application/json"]
                problems += compare(
                    seed,
                    seed_schema,
                    ours,
                    our_schema["schema"],
                    f"{where} {status}",
                    request=False,
                )
    return problems


@pytest.mark.parametrize("name", ["client.yml", "service.yml"])
def test_our_contract_is_a_superset_of_the_seeds(name: str) -> None:
    assert superset_problems(load(SEED / name), load(OURS / name)) == []


def test_the_superset_check_notices_a_missing_field() -> None:
    ours = load(OURS / "service.yml")
    del ours["components"]["schemas"]["TokenCheckResponse"]["properties"]["paidUntil"]

    assert superset_problems(load(SEED / "service.yml"), ours) == [
        "POST /token/check 200: field paidUntil is missing"
    ]


def test_the_exported_contracts_are_fresh() -> None:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))

    stale = contracts.stale(app, OURS)

    assert stale == [], "run `paycheck-server openapi` and commit docs/openapi/"
