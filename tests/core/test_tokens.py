"""The token and artifact format: what a client or a service can check with no network call."""

from __future__ import annotations

import hashlib
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycheck_core import tokens

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
SECRET = re.compile(r"pc[ta]_[0-9A-Za-z]{49}")

raw_bytes = st.binary(min_size=32, max_size=32)
prefixes = st.sampled_from([tokens.TOKEN_PREFIX, tokens.ARTIFACT_PREFIX])


def test_a_generated_token_is_a_well_formed_pct_secret() -> None:
    token = tokens.generate_token()

    assert token.startswith("pct_")
    assert len(token) == tokens.SECRET_LENGTH == 53
    assert SECRET.fullmatch(token)
    assert tokens.is_well_formed(token, prefix=tokens.TOKEN_PREFIX)


def test_a_generated_artifact_is_a_well_formed_pca_secret() -> None:
    artifact = tokens.generate_artifact()

    assert artifact.startswith("pca_")
    assert SECRET.fullmatch(artifact)
    assert tokens.is_well_formed(artifact, prefix=tokens.ARTIFACT_PREFIX)


def test_two_generated_tokens_differ() -> None:
    assert tokens.generate_token() != tokens.generate_token()


@given(prefix=prefixes, raw=raw_bytes)
def test_every_32_byte_value_encodes_to_a_well_formed_secret(prefix: str, raw: bytes) -> None:
    secret = tokens.secret_from_bytes(prefix, raw)

    assert secret.startswith(prefix)
    assert SECRET.fullmatch(secret)
    assert tokens.is_well_formed(secret)
    assert tokens.is_well_formed(secret, prefix=prefix)


@given(raw=raw_bytes, other=raw_bytes)
def test_different_bytes_make_different_secrets(raw: bytes, other: bytes) -> None:
    same = tokens.secret_from_bytes("pct_", raw) == tokens.secret_from_bytes("pct_", other)
    assert same == (raw == other)


@given(prefix=prefixes, raw=raw_bytes, data=st.data())
def test_any_substitution_within_the_alphabet_is_rejected(
    prefix: str, raw: bytes, data: st.DataObject
) -> None:
    secret = tokens.secret_from_bytes(prefix, raw)
    position = data.draw(st.integers(min_value=0, max_value=len(secret) - 1), label="position")
    replacement = data.draw(
        st.sampled_from(ALPHABET + "_").filter(lambda char: char != secret[position]),
        label="replacement",
    )
    changed = secret[:position] + replacement + secret[position + 1 :]

    # The checksum covers the random part: pct_ <-> pca_ keeps a well-formed secret of the
    # other kind, which a check for this kind refuses.
    assert not tokens.is_well_formed(changed, prefix=prefix)


@given(prefix=prefixes, raw=raw_bytes, data=st.data())
def test_any_deleted_character_is_rejected(prefix: str, raw: bytes, data: st.DataObject) -> None:
    secret = tokens.secret_from_bytes(prefix, raw)
    position = data.draw(st.integers(min_value=0, max_value=len(secret) - 1), label="position")

    assert not tokens.is_well_formed(secret[:position] + secret[position + 1 :])


@given(prefix=prefixes, raw=raw_bytes, data=st.data())
def test_any_inserted_character_is_rejected(prefix: str, raw: bytes, data: st.DataObject) -> None:
    secret = tokens.secret_from_bytes(prefix, raw)
    position = data.draw(st.integers(min_value=0, max_value=len(secret)), label="position")
    inserted = data.draw(st.sampled_from(ALPHABET), label="inserted")

    assert not tokens.is_well_formed(secret[:position] + inserted + secret[position:])


@given(raw=raw_bytes)
def test_an_artifact_is_not_accepted_where_a_token_is_required(raw: bytes) -> None:
    artifact = tokens.secret_from_bytes(tokens.ARTIFACT_PREFIX, raw)

    assert not tokens.is_well_formed(artifact, prefix=tokens.TOKEN_PREFIX)


@given(raw=raw_bytes)
def test_a_token_is_not_accepted_where_an_artifact_is_required(raw: bytes) -> None:
    token = tokens.secret_from_bytes(tokens.TOKEN_PREFIX, raw)

    assert not tokens.is_well_formed(token, prefix=tokens.ARTIFACT_PREFIX)


@given(raw=raw_bytes)
def test_a_token_with_the_artifact_prefix_swapped_in_is_rejected(raw: bytes) -> None:
    token = tokens.secret_from_bytes(tokens.TOKEN_PREFIX, raw)

    assert not tokens.is_well_formed("pca_" + token[4:], prefix=tokens.TOKEN_PREFIX)


def test_a_body_beyond_256_bits_is_rejected_even_with_a_matching_checksum() -> None:
    body = "z" * 43  # 62**43 - 1 > 2**256: no 32 random bytes encode to it
    forged = "pct_" + body + tokens._checksum(body)

    assert not tokens.is_well_formed(forged)


def test_the_largest_256_bit_body_is_accepted_and_the_next_number_is_not() -> None:
    largest = tokens.secret_from_bytes(tokens.TOKEN_PREFIX, b"\xff" * 32)
    body = tokens._base62(2**256, 43)
    next_one = "pct_" + body + tokens._checksum(body)

    assert tokens.is_well_formed(largest)
    assert not tokens.is_well_formed(next_one)


@pytest.mark.parametrize(
    "value",
    [None, 42, b"pct_" + b"0" * 49, ["pct_"], tokens.generate_token().encode()],
    ids=["none", "int", "bytes-garbage", "list", "bytes-token"],
)
def test_a_value_that_is_not_a_str_is_not_well_formed(value: object) -> None:
    assert not tokens.is_well_formed(value)


@pytest.mark.parametrize("value", ["", "pct_", "Bearer pct_x", " " * 53, "pct_" + "é" * 49])
def test_garbage_strings_are_not_well_formed(value: str) -> None:
    assert not tokens.is_well_formed(value)


def test_an_unknown_required_prefix_is_a_value_error_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"pct_.*pca_"):
        tokens.is_well_formed(tokens.generate_token(), prefix="tok_")


@given(secret=st.text())
def test_digest_is_the_sha256_hex_of_the_secret(secret: str) -> None:
    expected = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()

    assert tokens.digest(secret) == expected
    assert re.fullmatch(r"[0-9a-f]{64}", tokens.digest(secret))


def test_digest_of_a_token_does_not_contain_the_token() -> None:
    token = tokens.generate_token()

    assert token[4:] not in tokens.digest(token)


@pytest.mark.parametrize(
    ("prefix", "raw", "message"),
    [
        ("pcx_", bytes(32), "prefix must be one of"),
        ("pct_", bytes(31), "not 31"),
        ("pct_", bytes(33), "not 33"),
    ],
    ids=["unknown-prefix", "too-short", "too-long"],
)
def test_secret_from_bytes_refuses_a_wrong_prefix_or_length(
    prefix: str, raw: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tokens.secret_from_bytes(prefix, raw)


def test_constant_time_equal_compares_secrets() -> None:
    token = tokens.generate_token()

    assert tokens.constant_time_equal(token, str(token))
    assert not tokens.constant_time_equal(token, tokens.generate_token())
