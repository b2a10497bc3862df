"""The assignment hash: a unit id and an experiment salt to a bucket in ``0..BUCKETS - 1``.

Hash version 1, frozen since its release (the golden vectors in
``tests/assignment/cases.json`` are its contract)::

    salt_seed = xxh3_64(utf8(salt))                    # seed 0, unsigned 64-bit
    bucket    = xxh3_64(utf8(unit_id), seed=salt_seed) % 10_000

Unit ids are strings and are hashed exactly as given: no case folding, no Unicode
normalisation, no trimming. Passing the salt as the hash seed, rather than hashing
``salt + unit_id``, saves building a key string on every call. Python's ``hash()`` is never
used: it is salted per process, and buckets must agree across processes, machines and
restarts.

A change to any of this is a new hash version next to this one, never an edit in place:
sticky assignments and analyses already recorded depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import repeat
from numbers import Integral
from typing import Final, TypeAlias

import numpy as np
from numpy.typing import NDArray
from xxhash import xxh3_64_intdigest

from ablab.errors import ValidationError

__all__ = ["BUCKETS", "HASH_VERSION", "bucket", "bucket_batch", "hash_unit_ids", "salt_seed"]

HASH_VERSION: Final = 1
"""The version of the hash this module implements."""

BUCKETS: Final = 10_000
"""Number of buckets; one bucket is one basis point of traffic."""

UnitIds: TypeAlias = (
    Iterable[str] | Iterable[int] | NDArray[np.str_] | NDArray[np.integer] | NDArray[np.object_]
)
"""What the batch functions accept: strings, or integers standing for their decimal form."""


def salt_seed(salt: str) -> int:
    """The 64-bit hash seed derived from an experiment salt.

    Args:
        salt: The experiment's salt; any string, the empty one included.

    Returns:
        ``xxh3_64(utf8(salt))`` as an unsigned 64-bit integer.

    Raises:
        ValidationError: ``salt`` is not a string or cannot be encoded as UTF-8.

    Examples:
        >>> salt_seed("checkout-button") == salt_seed("checkout-button")
        True
    """
    if not isinstance(salt, str):
        raise ValidationError(
            f"the salt must be a string, got {type(salt).__name__}",
            details={"field": "salt"},
        )
    try:
        return xxh3_64_intdigest(salt.encode())
    except UnicodeEncodeError:
        raise ValidationError(
            "the salt is not valid Unicode (it holds a lone surrogate)",
            details={"field": "salt"},
        ) from None


def invalid_unit_id(unit_id: object) -> ValidationError:
    """The error for a unit id that is not a non-empty, encodable string."""
    if isinstance(unit_id, str):
        reason = "is empty" if not unit_id else "is not valid Unicode (it holds a lone surrogate)"
        return ValidationError(f"the unit id {reason}", details={"field": "unit_id"})
    return ValidationError(
        f"a unit id must be a non-empty string, got {type(unit_id).__name__}",
        details={"field": "unit_id", "type": type(unit_id).__name__},
    )


def bucket(salt: str, unit_id: str) -> int:
    """The bucket of one unit in one experiment (hash version 1).

    Args:
        salt: The experiment's salt.
        unit_id: The unit (device, user, session) id; a non-empty string.

    Returns:
        An integer in ``0..BUCKETS - 1``, the same on every machine and in every process.

    Raises:
        ValidationError: ``unit_id`` is empty or not a string, or ``salt`` is not a string.

    Examples:
        >>> 0 <= bucket("exp-1", "device-42") < BUCKETS
        True
    """
    seed = salt_seed(salt)
    if not isinstance(unit_id, str) or not unit_id:
        raise invalid_unit_id(unit_id)
    try:
        key = unit_id.encode()
    except UnicodeEncodeError:
        raise invalid_unit_id(unit_id) from None
    return xxh3_64_intdigest(key, seed) % BUCKETS


def bucket_batch(salt: str, unit_ids: UnitIds) -> NDArray[np.int64]:
    """The buckets of many units in one experiment, equal to ``bucket`` id by id.

    The loop over ids runs in C (``map`` feeding ``numpy.fromiter``); only the hash call is
    per id, so a million ids take a fraction of a second.

    Args:
        salt: The experiment's salt.
        unit_ids: A list, tuple or other iterable of strings, or a one-dimensional numpy
            array of strings or objects. Integers stand for their decimal form (``42`` is
            ``"42"``); unit ids are strings everywhere else.

    Returns:
        A one-dimensional ``int64`` array of buckets, in the order of ``unit_ids``.

    Raises:
        ValidationError: an id is empty, or neither a string nor an integer.

    Examples:
        >>> bucket_batch("exp-1", ["device-42", 42]).tolist() == [
        ...     bucket("exp-1", "device-42"),
        ...     bucket("exp-1", "42"),
        ... ]
        True
    """
    return hash_unit_ids(salt_seed(salt), unit_ids)[0]


def hash_unit_ids(seed: int, unit_ids: UnitIds) -> tuple[NDArray[np.int64], Sequence[str]]:
    """Buckets of many ids for one salt seed, with the ids as the strings that were hashed.

    The assignment plan needs the string ids too (to test membership), so this returns both
    and converts integer ids only once.

    Args:
        seed: ``salt_seed(salt)``.
        unit_ids: As for ``bucket_batch``.

    Returns:
        The ``int64`` buckets, and the ids as strings (``unit_ids`` itself when it was already
        a list or tuple of strings).

    Raises:
        ValidationError: an id is empty, or neither a string nor an integer.
    """
    ids = _as_sequence(unit_ids)
    try:
        hashes = _hash_all(ids, seed)
    except (TypeError, UnicodeEncodeError):
        # Only reached when some id is not a str: convert integers and name the first bad id.
        ids = [_as_unit_id_string(unit_id) for unit_id in ids]
        hashes = _hash_all(ids, seed)
    if hashes.size and (hashes == xxh3_64_intdigest(b"", seed)).any() and "" in ids:
        # Comparing hashes is vectorised; the O(n) string scan runs only on a hash match.
        raise invalid_unit_id("")
    np.remainder(hashes, np.uint64(BUCKETS), out=hashes)
    # Every bucket is below 2**63, so the unsigned array can be read as int64 without a copy.
    return hashes.view(np.int64), ids


def _hash_all(ids: Sequence[str], seed: int) -> NDArray[np.uint64]:
    return np.fromiter(
        map(xxh3_64_intdigest, map(str.encode, ids), repeat(seed)),
        dtype=np.uint64,
        count=len(ids),
    )


def _as_sequence(unit_ids: UnitIds) -> Sequence[str]:
    if isinstance(unit_ids, np.ndarray):
        if unit_ids.ndim != 1:
            raise ValidationError(
                f"unit ids must be a one-dimensional array, got {unit_ids.ndim} dimensions",
                details={"field": "unit_ids", "shape": list(unit_ids.shape)},
            )
        if unit_ids.dtype.kind in "iu":
            return list(map(str, unit_ids.tolist()))
        if unit_ids.dtype.kind in "UOT":
            items: list[str] = unit_ids.tolist()
            return items
        raise ValidationError(
            f"unit ids must be strings, got an array of {unit_ids.dtype}",
            details={"field": "unit_ids", "dtype": str(unit_ids.dtype)},
        )
    if isinstance(unit_ids, (str, bytes)):
        raise ValidationError(
            "unit ids must be a collection of ids, got a single "
            f"{type(unit_ids).__name__}; wrap it in a list",
            details={"field": "unit_ids"},
        )
    if isinstance(unit_ids, (list, tuple)):
        return unit_ids
    return list(unit_ids)


def _as_unit_id_string(unit_id: object) -> str:
    if isinstance(unit_id, str):
        try:
            unit_id.encode()
        except UnicodeEncodeError:
            raise invalid_unit_id(unit_id) from None
        return unit_id
    if isinstance(unit_id, bool):  # an int to Python, but True is no unit id
        raise invalid_unit_id(unit_id)
    if isinstance(unit_id, Integral):
        return str(int(unit_id))
    raise invalid_unit_id(unit_id)
