"""Version strings ("2.1", "v2.10.3", "1.2.0-beta.1") ordered the way people mean them.

Targeting rules such as ``{"app_version": {"$gte": "2.1"}}`` must not compare strings letter by
letter ("2.10" < "2.9"). The order follows Semantic Versioning 2.0.0, section 11, generalised to
any number of release parts: parts compare as integers, missing parts count as zero
("2.1" == "2.1.0"), a pre-release ranks below its release, pre-release identifiers compare
numerically when all digits and as ASCII text otherwise (numeric below text), more identifiers
rank higher when all before are equal, and build metadata ("+build.5") is ignored. A leading
"v" or "V" is allowed.

References:
    Semantic Versioning 2.0.0, section 11 (precedence), https://semver.org/#spec-item-11
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ablab.errors import ValidationError

__all__ = ["Version", "compare_versions", "parse_version"]

_VERSION = re.compile(
    r"[vV]?"
    r"(?P<release>[0-9]+(?:\.[0-9]+)*)"
    r"(?:-(?P<prerelease>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


class Version(NamedTuple):
    """A parsed version whose tuple order is version precedence.

    Numbers are kept as (digit count, digits) pairs with leading zeros removed: they order
    like integers without converting arbitrarily long digit strings to ``int`` (which Python
    refuses past 4,300 digits).

    Attributes:
        release: The release parts with trailing zero parts removed, so that "2.1" and
            "2.1.0" are equal.
        is_release: 1 for a release, 0 for a pre-release (which ranks below its release).
        prerelease: One ``(kind, digit count, text)`` triple per pre-release identifier;
            kind 0 is numeric, kind 1 alphanumeric.
    """

    release: tuple[tuple[int, str], ...]
    is_release: int
    prerelease: tuple[tuple[int, int, str], ...]


@lru_cache(maxsize=4096)
def parse_version(text: str) -> Version | None:
    """Parse a version string, or return ``None`` when it does not look like one.

    Cached: targeting evaluates the same few app versions again and again.

    Args:
        text: A candidate such as "2.10.3", "v1.2", "1.0.0-rc.1+build.7" or "42".

    Returns:
        A ``Version`` whose ordering is version precedence, or ``None``.

    Examples:
        >>> parse_version("2.10") > parse_version("2.9")
        True
        >>> parse_version("1.0.0-beta") < parse_version("1.0.0")
        True
        >>> parse_version("v2.1") == parse_version("2.1.0")
        True
        >>> parse_version("latest") is None
        True
    """
    match = _VERSION.fullmatch(text)
    if match is None:
        return None
    release = [_number(part) for part in match["release"].split(".")]
    while release and release[-1] == (0, ""):
        release.pop()
    prerelease_text = match["prerelease"]
    if prerelease_text is None:
        return Version(tuple(release), 1, ())
    prerelease = tuple(
        (0, *_number(identifier)) if identifier.isdigit() else (1, 0, identifier)
        for identifier in prerelease_text.split(".")
    )
    return Version(tuple(release), 0, prerelease)


def compare_versions(left: str, right: str) -> int:
    """Compare two version strings.

    Args:
        left: A version string.
        right: A version string.

    Returns:
        -1 if ``left`` ranks below ``right``, 0 if they are equal, 1 if above.

    Raises:
        ValidationError: either string is not a version.

    Examples:
        >>> compare_versions("2.10", "2.9")
        1
        >>> compare_versions("v2.1", "2.1.0")
        0
    """
    left_version = _require_version(left, "left")
    right_version = _require_version(right, "right")
    return (left_version > right_version) - (left_version < right_version)


def _require_version(text: str, field: str) -> Version:
    version = parse_version(text) if isinstance(text, str) else None
    if version is None:
        raise ValidationError(
            f"{text!r} is not a version (expected e.g. '2.1', 'v1.2.0' or '1.0.0-beta.1')",
            details={"field": field},
        )
    return version


def _number(digits: str) -> tuple[int, str]:
    significant = digits.lstrip("0")
    return len(significant), significant
