"""Webhook signatures: prove that a request came from ablab and was not replayed.

ablab signs every task it sends to a user's application, and the application signs the
output it posts back to ablab's callback endpoint, with the same scheme. Two headers travel
with the raw JSON body::

    X-Ablab-Timestamp: 1700000000
    X-Ablab-Signature: sha256=<hex HMAC-SHA256(secret, b"1700000000." + raw_body)>

Signing the timestamp together with the body means a captured request cannot be sent again
later: its timestamp falls outside the tolerance, and changing the timestamp breaks the
signature. The receiver must verify the bytes it received, before parsing them; JSON parsed
and serialised again need not give the same bytes.

References:
    Krawczyk, Bellare and Canetti, "HMAC: Keyed-Hashing for Message Authentication",
    RFC 2104 (1997).
    Stripe, "Check the webhook signatures": https://docs.stripe.com/webhooks#verify-manually
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from ablab.errors import Unauthorized, ValidationError

__all__ = ["DEFAULT_TOLERANCE", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Ablab-Signature"
TIMESTAMP_HEADER = "X-Ablab-Timestamp"
DEFAULT_TOLERANCE = 300.0
_SCHEME = "sha256="


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The signature headers for sending ``body`` at ``timestamp``.

    Args:
        secret: The secret shared with the receiver.
        body: The exact bytes that will be sent.
        timestamp: Unix time in whole seconds, normally ``int(time.time())``.

    Returns:
        ``X-Ablab-Timestamp`` and ``X-Ablab-Signature``, to add to the request's headers.

    Raises:
        ValidationError: the secret is empty (an empty key authenticates nothing).

    References:
        RFC 2104 (HMAC), with SHA-256 as the hash function.

    Examples:
        The vector below can be checked with
        ``printf '1700000000.{"test_id":"t1"}' | openssl dgst -sha256 -hmac s3cret``:

        >>> headers = sign("s3cret", b'{"test_id":"t1"}', 1700000000)
        >>> headers["X-Ablab-Timestamp"]
        '1700000000'
        >>> headers["X-Ablab-Signature"]
        'sha256=75c27c02c40037866cf4c1174f69ab88f84e3c93507076eddd86f76812ca88ac'
    """
    key = _key(secret)
    stamp = str(int(timestamp))
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: _SCHEME + _digest(key, stamp, body)}


def verify(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check that ``body`` was signed with ``secret`` less than ``tolerance`` seconds ago.

    Header names are matched without regard to case, as HTTP requires.

    Args:
        secret: The secret shared with the sender.
        body: The raw bytes received, before any parsing.
        headers: The request's headers.
        tolerance: How far, in seconds, the timestamp may be from ``now``, either way (the
            future side allows for clock skew).
        now: Unix time to check against; the current time when ``None``.

    Raises:
        Unauthorized: a header is missing or malformed, the signature does not match, or the
            timestamp is outside the tolerance.
        ValidationError: the secret is empty.

    Examples:
        >>> body = b'{"test_id":"t1"}'
        >>> headers = sign("s3cret", body, 1700000000)
        >>> verify("s3cret", body, headers, now=1700000060)
        >>> verify("s3cret", body + b" ", headers, now=1700000060)
        Traceback (most recent call last):
        ...
        ablab.errors.Unauthorized: the webhook signature does not match the body
    """
    key = _key(secret)
    stamp = _header(headers, TIMESTAMP_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    if not stamp.isdigit() or not stamp.isascii():
        raise Unauthorized(
            f"{TIMESTAMP_HEADER} must be Unix time in whole seconds", details={"value": stamp}
        )
    if not given.startswith(_SCHEME):
        raise Unauthorized(f"{SIGNATURE_HEADER} must start with {_SCHEME!r}")
    expected = _digest(key, stamp, body)
    # compare_digest takes as long for a near miss as for a wild guess, so timing the
    # comparison reveals nothing about how many leading characters were right.
    if not hmac.compare_digest(
        expected.encode(), given.removeprefix(_SCHEME).strip().encode("utf-8", "replace")
    ):
        raise Unauthorized("the webhook signature does not match the body")
    age = (time.time() if now is None else now) - int(stamp)
    if abs(age) > tolerance:
        raise Unauthorized(
            f"the webhook timestamp is {age:.0f} s from now, beyond the {tolerance:g} s tolerance",
            details={"timestamp": int(stamp), "tolerance": tolerance},
        )


def _key(secret: str) -> bytes:
    if not secret:
        raise ValidationError("a webhook secret must not be empty")
    return secret.encode()


def _digest(key: bytes, stamp: str, body: bytes) -> str:
    return hmac.new(key, stamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        raise Unauthorized(f"the {name} header is missing")
    return value
