"""An ``Idempotency-Key`` is a secret: guessable keys are refused, random ones always pass."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable

import pytest

from paycheck_core import tokens

BASE62 = string.digits + string.ascii_letters

GUESSABLE = {
    "an invoice number": "invoice-00000042",
    "a longer invoice number": "invoice-000000000000000000000000042",
    "one letter": "a" * 32,
    "one letter, at length": "a" * 255,
    "a counter": "0" * 31 + "1",
    "a long counter": "0" * 63 + "1",
    "a sequence": "0123456789abcdef" * 2,
    "the alphabet": "abcdefghijklmnopqrstuvwxyz0123456789",
    "a short random part, repeated": secrets.token_hex(8) * 4,
    "a made-up order reference": "order-17-retry-2",
    "16 random characters": secrets.token_urlsafe(12),
    "a time-based UUID": str(uuid.uuid1()),
    "a name-based UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/order/42")),
    "the nil UUID": str(uuid.UUID(int=0)),
    "a UUID4 with no randomness": "00000000-0000-4000-8000-000000000000",
    "a date and a number": "2030-01-01-0000000000000000000001",
}

RANDOM: dict[str, Callable[[], str]] = {
    "uuid4": lambda: str(uuid.uuid4()),
    "UUID4 in capitals": lambda: str(uuid.uuid4()).upper(),
    "32 hex characters": lambda: secrets.token_hex(16),
    "32 base62 characters": lambda: "".join(secrets.choice(BASE62) for _ in range(32)),
    "43 base64url characters": lambda: secrets.token_urlsafe(32),
    "generate_idempotency_key": tokens.generate_idempotency_key,
}


@pytest.mark.parametrize("key", GUESSABLE.values(), ids=GUESSABLE.keys())
def test_a_guessable_key_is_refused_saying_what_a_key_must_be(key: str) -> None:
    problem = tokens.idempotency_key_problem(key)

    assert problem is not None
    assert "use a random UUID (uuid4) or 32 random hex or base62 characters" in problem
    assert key not in problem


@pytest.mark.parametrize("make", RANDOM.values(), ids=RANDOM.keys())
def test_a_random_key_always_passes(make: Callable[[], str]) -> None:
    refused = [key for key in (make() for _ in range(2000)) if tokens.idempotency_key_problem(key)]

    assert refused == []


def test_a_key_below_128_bits_is_refused_with_its_estimate() -> None:
    problem = tokens.idempotency_key_problem("invoice-00000042")

    assert problem == (
        "is too weak to be a secret (about 96 bits; at least 128 are needed): "
        "use a random UUID (uuid4) or 32 random hex or base62 characters"
    )


def test_a_repetitive_key_is_refused_as_such() -> None:
    problem = tokens.idempotency_key_problem("0" * 63 + "1")

    assert problem is not None
    assert problem.startswith("is too repetitive or sequential to be a secret")


def test_a_uuid_that_is_not_random_is_refused_as_such() -> None:
    problem = tokens.idempotency_key_problem(str(uuid.uuid1()))

    assert problem is not None
    assert problem.startswith("is a UUID but not a random one (version 4)")


def test_a_uuid4_whose_digits_are_all_decimal_passes() -> None:
    assert tokens.idempotency_key_problem("10133072-8540-4531-9694-923534120614") is None


@pytest.mark.parametrize("key", ["", "k" * 15, "k" * 256, "has a space in it, no", "ключ" * 5])
def test_a_key_of_the_wrong_length_or_characters_is_refused(key: str) -> None:
    problem = tokens.idempotency_key_problem(key)

    assert problem is not None
    assert problem.startswith("must be 16 to 255 visible ASCII characters")
