"""Identifiers: a readable prefix and 12 random hex digits (``exp_3f9c0a1b2c4d``)."""

from __future__ import annotations

import re
import secrets

__all__ = ["NAME_PATTERN", "is_valid_name", "new_id"]

# Names appear in URLs, shell commands and SQL identifiers of reports, so keep them plain.
# ``fullmatch``: with ``match``, ``$`` also matched before a final newline ("exp\n").
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def new_id(prefix: str) -> str:
    """A fresh identifier such as ``exp_3f9c0a1b2c4d``."""
    return f"{prefix}_{secrets.token_hex(6)}"


def is_valid_name(name: str) -> bool:
    """Whether ``name`` is a plain name: letters, digits, ``.``, ``_`` and ``-``, 1-128 long."""
    return NAME_PATTERN.fullmatch(name) is not None
