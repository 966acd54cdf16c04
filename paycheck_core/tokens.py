"""The format of Paycheck's two secrets: access tokens and payment artifacts.

Both are 256 random bits from :mod:`secrets`, written in base62, behind a prefix that says what
the secret is and followed by a 6-character base62 CRC32 checksum of the random part::

    pct_3sZ0gVq7w3W9pYQ1kAWr8mCkQe0Fh1kWcX0yq3mWbZr0Ek4Jp1  (access token)
    pca_...                                                  (payment artifact)

The checksum lets a client or a service reject a mistyped or truncated secret without asking
the payment server, and lets secret scanners recognise a leaked one. The payment server stores
only :func:`digest` of a secret and looks rows up by it.

An ``Idempotency-Key`` is a client's secret too: the payment server replays an answer, secret
included, to whoever sends the key again with the same request. :func:`generate_idempotency_key`
makes one (a random UUID) and :func:`idempotency_key_problem` says why a key is refused (fewer
than 128 bits of estimated randomness, or repetitive or sequential).

Example::

    >>> from paycheck_core import tokens
    >>> token = tokens.generate_token()
    >>> tokens.is_well_formed(token, prefix=tokens.TOKEN_PREFIX)
    True
    >>> tokens.is_well_formed(token[:-1])
    False
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import re
import secrets
import string
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable

__all__ = [
    "ARTIFACT_PREFIX",
    "IDEMPOTENCY_KEY_MAX_LENGTH",
    "IDEMPOTENCY_KEY_MIN_BITS",
    "IDEMPOTENCY_KEY_MIN_LENGTH",
    "SECRET_LENGTH",
    "TOKEN_PREFIX",
    "constant_time_equal",
    "digest",
    "generate_artifact",
    "generate_idempotency_key",
    "generate_token",
    "idempotency_key_problem",
    "is_well_formed",
    "secret_from_bytes",
]

TOKEN_PREFIX = "pct_"
"""Prefix of an access token (sent as ``Authorization: Bearer pct_...``)."""

ARTIFACT_PREFIX = "pca_"
"""Prefix of a payment artifact (returned once by ``POST /bill``)."""

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_BYTES = 32
_BODY_LENGTH = 43  # 62**43 > 2**256 > 62**42
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32
_PREFIXES = (TOKEN_PREFIX, ARTIFACT_PREFIX)
_BODY = re.compile(f"[0-9A-Za-z]{{{_BODY_LENGTH}}}")

SECRET_LENGTH = 4 + _BODY_LENGTH + _CHECKSUM_LENGTH
"""Length of every well-formed token and artifact, prefix included (53)."""


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        chars.append(_ALPHABET[remainder])
    return "".join(reversed(chars))


_MAX_BODY = _base62(2 ** (8 * _RANDOM_BYTES) - 1, _BODY_LENGTH)


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_LENGTH)


def secret_from_bytes(prefix: str, raw: bytes) -> str:
    """Encode 32 bytes as a secret with ``prefix``: base62 body and checksum.

    :func:`generate_token` and :func:`generate_artifact` call this with fresh random bytes; the
    payment server calls it with bytes it derives (for example when it replays an idempotent
    answer), so the result has the same format either way.

    Raises:
        ValueError: ``prefix`` is not a known prefix or ``raw`` is not 32 bytes long.
    """
    if prefix not in _PREFIXES:
        raise ValueError(f"prefix must be one of {_PREFIXES!r}, not {prefix!r}")
    if len(raw) != _RANDOM_BYTES:
        raise ValueError(f"a secret is made of {_RANDOM_BYTES} bytes, not {len(raw)}")
    body = _base62(int.from_bytes(raw, "big"), _BODY_LENGTH)
    return prefix + body + _checksum(body)


def generate_token() -> str:
    """Return a new random access token (``pct_...``, 53 characters)."""
    return secret_from_bytes(TOKEN_PREFIX, secrets.token_bytes(_RANDOM_BYTES))


def generate_artifact() -> str:
    """Return a new random payment artifact (``pca_...``, 53 characters)."""
    return secret_from_bytes(ARTIFACT_PREFIX, secrets.token_bytes(_RANDOM_BYTES))


def is_well_formed(secret: object, *, prefix: str | None = None) -> bool:
    """Tell whether ``secret`` has the format of a token or an artifact.

    Checks the prefix, the length, the alphabet and the checksum; it never contacts the server,
    so a well-formed secret may still be unknown, expired or revoked.

    Args:
        secret: the value to check; anything that is not a ``str`` is not well-formed.
        prefix: require this prefix (:data:`TOKEN_PREFIX` or :data:`ARTIFACT_PREFIX`);
            by default either is accepted.

    Raises:
        ValueError: ``prefix`` is neither of the two prefixes (a typo there would otherwise
            deny every secret without a word).
    """
    if prefix is not None and prefix not in _PREFIXES:
        raise ValueError(f"prefix must be one of {_PREFIXES!r} or None, not {prefix!r}")
    if not isinstance(secret, str) or len(secret) != SECRET_LENGTH:
        return False
    head = secret[:4]
    if head not in _PREFIXES or (prefix is not None and head != prefix):
        return False
    body = secret[4 : 4 + _BODY_LENGTH]
    # The body may still encode a number of 2**256 or more; such a secret was never issued.
    # The alphabet is in ASCII order and the width fixed, so comparing the text compares the
    # numbers.
    if _BODY.fullmatch(body) is None or body > _MAX_BODY:
        return False
    return hmac.compare_digest(secret[4 + _BODY_LENGTH :], _checksum(body))


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest of ``secret``: the only form the server stores."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def constant_time_equal(left: str, right: str) -> bool:
    """Compare two secrets or digests in time that does not depend on where they differ."""
    return hmac.compare_digest(
        left.encode("utf-8", "surrogatepass"), right.encode("utf-8", "surrogatepass")
    )


# --- Idempotency-Key ---------------------------------------------------------------------------
# The payment server derives the secret of a replayed answer from the key, so a key is a
# credential: how strong it is cannot be known from the key alone, so it is estimated,
# generously for random keys and harshly for made-up ones (idempotency_key_problem says how).

IDEMPOTENCY_KEY_MIN_LENGTH = 16
"""The shortest ``Idempotency-Key`` the payment server accepts (most need more: see the bits)."""

IDEMPOTENCY_KEY_MAX_LENGTH = 255
"""The longest ``Idempotency-Key`` the payment server accepts."""

IDEMPOTENCY_KEY_MIN_BITS = 128
"""The least estimated randomness of an ``Idempotency-Key``, in bits."""

_ADVICE = "use a random UUID (uuid4) or 32 random hex or base62 characters"
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_HEX_LOWER = string.digits + "abcdef"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
# Smallest first: a key is read in the first alphabet that holds all its characters.
_ALPHABETS = tuple(
    frozenset(alphabet)
    for alphabet in (
        string.digits,
        _HEX_LOWER,
        _HEX_LOWER.upper(),
        string.ascii_uppercase + "234567",
        string.ascii_lowercase + "234567",
        string.digits + string.ascii_lowercase,
        string.digits + string.ascii_uppercase,
        _BASE62,
        _BASE62 + "-_",
        _BASE62 + "+/",
        "".join(map(chr, range(ord("!"), ord("~") + 1))),
    )
)


def generate_idempotency_key() -> str:
    """Return a new ``Idempotency-Key``: a random UUID (version 4), 122 random bits."""
    return str(uuid.uuid4())


def _alphabet_bits(text: str) -> float:
    present = set(text)
    size = next(len(alphabet) for alphabet in _ALPHABETS if present <= alphabet)
    return math.log2(size)


def _repeated_length(text: str) -> int:
    """The length of the shortest prefix that ``text`` is made of, at least twice over.

    ``len(text)`` when it does not repeat a prefix at least twice.
    """
    # The prefix function of Knuth-Morris-Pratt: text is its first n - border characters over
    # and over (the last time perhaps cut short).
    border = [0] * len(text)
    for index in range(1, len(text)):
        length = border[index - 1]
        while length and text[index] != text[length]:
            length = border[length - 1]
        if text[index] == text[length]:
            length += 1
        border[index] = length
    period = len(text) - border[-1]
    return period if 2 * period <= len(text) else len(text)


def _entropy_bits(values: Iterable[object]) -> float:
    """The empirical Shannon entropy of ``values``, times their number."""
    counts = Counter(values)
    total = sum(counts.values())
    return -sum(count * math.log2(count / total) for count in counts.values())


def idempotency_key_problem(key: str) -> str | None:
    """What is wrong with ``key`` as an ``Idempotency-Key``, or ``None`` when it is fine.

    Whoever sends a key again with the same request gets the first answer, with its artifact or
    token, so a key must be as hard to guess as a secret: 16 to 255 visible ASCII characters
    with at least 128 bits of estimated randomness. The estimate:

    1. the key is read in the smallest usual alphabet that holds all its characters (decimal,
       hexadecimal, base32, base36, base62, base64, printable ASCII); a canonical UUID is read
       as its 32 hexadecimal digits and must be a random one (version 4);
    2. a key made of one part repeated counts that part once (``abcdabcd`` as ``abcd``);
    3. the estimate is ``length * log2(alphabet size)`` and must reach 128 bits: a UUID4 and
       32 random hexadecimal characters reach it exactly;
    4. a random key spreads its characters and the steps between neighbours, a made-up one
       does not (``invoice-000…042``, ``aaaa…``, ``0123…``): the empirical entropy of the
       characters, and of the steps, must each be at least half the estimate. A random key
       fails this with a probability far below one in a trillion.

    A UUID4 always passes. A random key of just 128 bits may, rarely, fit a smaller alphabet
    than the one it was drawn from and be refused (32 hexadecimal digits with no letter: about
    3 in 10 million); longer keys leave a margin. The estimate refuses keys that are plainly
    guessable; it cannot prove a key random (``order-17-`` followed by 16 random hex digits
    passes, with 64 random bits): generate keys, do not make them up.

    The answer completes a sentence that names the key, for example
    ``f"Idempotency-Key {problem}"``; it never quotes the key, which is a secret.

    Example::

        >>> idempotency_key_problem("0b9f6a52-5d0e-4a59-9a63-d1f1b0f3c7a1") is None
        True
        >>> idempotency_key_problem("invoice-00000042").startswith("is too weak")
        True
    """
    if not IDEMPOTENCY_KEY_MIN_LENGTH <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not all(
        "!" <= char <= "~" for char in key
    ):
        return (
            f"must be {IDEMPOTENCY_KEY_MIN_LENGTH} to {IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII "
            f"characters with at least {IDEMPOTENCY_KEY_MIN_BITS} bits of randomness; {_ADVICE}"
        )
    text = key
    if _UUID.fullmatch(key):
        parsed = uuid.UUID(key)
        if parsed.variant != uuid.RFC_4122 or parsed.version != 4:
            return f"is a UUID but not a random one (version 4); {_ADVICE}"
        text = parsed.hex
        bits = _repeated_length(text) * 4.0
    else:
        bits = _repeated_length(text) * _alphabet_bits(text)
    if bits < IDEMPOTENCY_KEY_MIN_BITS:
        return (
            f"is too weak to be a secret (about {bits:.0f} bits; at least "
            f"{IDEMPOTENCY_KEY_MIN_BITS} are needed): {_ADVICE}"
        )
    steps = (ord(right) - ord(left) for left, right in itertools.pairwise(text))
    if min(_entropy_bits(text), _entropy_bits(steps)) < bits / 2:
        return f"is too repetitive or sequential to be a secret; {_ADVICE}"
    return None
