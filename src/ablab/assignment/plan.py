"""The assignment plan: one experiment's allocation, compiled for fast, repeatable assignment.

A plan is pure and immutable. It answers "which variant does this unit get?" from the hash
alone; it never remembers an answer. Stickiness is the caller's job: the service layer stores
the first answer per (experiment, unit) and consults the plan only for units without one, so a
changed split (a new plan) applies to new units only. Everything a call needs (the salt's hash
seed, the bucket edges, the compiled targeting) is computed once, when the plan is built.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray
from xxhash import xxh3_64_intdigest

from ablab.assignment.allocation import bucket_ranges, require_coverage, weights_to_basis_points
from ablab.assignment.conditions import AttributePredicate, compile_condition
from ablab.assignment.hashing import (
    BUCKETS,
    UnitIds,
    hash_unit_ids,
    invalid_unit_id,
    salt_seed,
)
from ablab.errors import ValidationError

__all__ = ["AssignmentPlan"]

_Gate: TypeAlias = Callable[[str, Mapping[str, object] | None], bool]
"""Whether a unit may enter at all (member list and targeting), before any hashing."""

BatchAttributes: TypeAlias = Mapping[str, object] | Sequence[Mapping[str, object] | None] | None
"""One attribute mapping for all units, or one per unit (``None`` meaning no attributes)."""

_NO_ATTRIBUTES: Mapping[str, object] = MappingProxyType({})
_NOT_ASSIGNED = -1


@dataclass(frozen=True, slots=True)
class AssignmentPlan:
    """How one experiment splits its units between variants.

    Build it with ``AssignmentPlan.from_weights`` from percentages; the constructor takes the
    already-converted fields and checks that they agree.

    Attributes:
        salt: The experiment's hash salt; experiments with different salts split
            independently.
        variant_names: Variant names, control first.
        basis_points: Each variant's weight in buckets (basis points), summing to ``BUCKETS``.
        coverage_percent: Share of eligible units that enter the experiment, in ``(0, 100]``.
        targeting: Compiled targeting condition on unit attributes, or ``None`` for everyone.
            Plans compare equal only if they share the same predicate object.
        members: An explicit list of the unit ids that may enter, or ``None`` for everyone.
        bucket_ranges: Each variant's half-open bucket range ``[start, end)``, derived.

    Examples:
        >>> plan = AssignmentPlan.from_weights("exp-1", [("control", 50), ("treatment", 50)])
        >>> plan.assign("device-42") in ("control", "treatment")
        True
        >>> plan.bucket_ranges
        ((0, 5000), (5000, 10000))
    """

    salt: str
    variant_names: tuple[str, ...]
    basis_points: tuple[int, ...]
    coverage_percent: float = 100.0
    targeting: AttributePredicate | None = None
    members: frozenset[str] | None = field(default=None, repr=False)
    bucket_ranges: tuple[tuple[int, int], ...] = field(init=False)
    _seed: int = field(init=False, repr=False, compare=False)
    _edges: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _owners: tuple[str | None, ...] = field(init=False, repr=False, compare=False)
    _indices_by_bucket: NDArray[np.int16] = field(init=False, repr=False, compare=False)
    _gate: _Gate | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # the dataclass is frozen; fields are set once, here
        set_field(self, "variant_names", _checked_names(self.variant_names))
        set_field(
            self, "basis_points", _checked_basis_points(self.basis_points, self.variant_names)
        )
        set_field(self, "coverage_percent", require_coverage(self.coverage_percent))
        if self.targeting is not None and not callable(self.targeting):
            raise ValidationError(
                "targeting must be a compiled condition (see compile_condition)",
                details={"field": "targeting"},
            )
        if self.members is not None:
            set_field(self, "members", _checked_members(self.members))
        ranges = bucket_ranges(self.basis_points, self.coverage_percent)
        set_field(self, "bucket_ranges", ranges)
        set_field(self, "_seed", salt_seed(self.salt))
        edges, owners = _edges_and_owners(ranges, self.variant_names)
        set_field(self, "_edges", edges)
        set_field(self, "_owners", owners)
        indices = np.full(BUCKETS, _NOT_ASSIGNED, dtype=np.int16)
        for index, (start, end) in enumerate(ranges):
            indices[start:end] = index
        indices.flags.writeable = False
        set_field(self, "_indices_by_bucket", indices)
        set_field(self, "_gate", _gate(self.members, self.targeting))

    @classmethod
    def from_weights(
        cls,
        salt: str,
        variants: Sequence[tuple[str, float]],
        coverage_percent: float = 100.0,
        condition: Mapping[str, object] | None = None,
        members: Iterable[str] | None = None,
    ) -> AssignmentPlan:
        """Build a plan from variant weights in percent.

        Args:
            salt: The experiment's hash salt.
            variants: ``(name, weight_percent)`` pairs, control first; at least two, names
                unique and non-empty, weights ``>= 0`` summing to 100.
            coverage_percent: Share of eligible units in the experiment, in ``(0, 100]``.
            condition: A targeting condition on unit attributes (see ``compile_condition``).
            members: The only unit ids that may enter (a device group's member list).

        Returns:
            The plan, with weights converted to basis points by largest remainder.

        Raises:
            ValidationError: any argument is malformed; the message says which and why.

        Examples:
            >>> plan = AssignmentPlan.from_weights(
            ...     "exp-1", [("control", 33.34), ("a", 33.33), ("b", 33.33)], coverage_percent=50
            ... )
            >>> plan.basis_points
            (3334, 3333, 3333)
            >>> plan.bucket_ranges
            ((0, 1667), (3334, 5000), (6667, 8333))
        """
        if not _is_sequence(variants):
            raise ValidationError(
                "variants must be a list of (name, weight_percent) pairs",
                details={"field": "variants"},
            )
        for position, pair in enumerate(variants):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValidationError(
                    f"variant #{position + 1} must be a (name, weight_percent) pair, got {pair!r}",
                    details={"field": "variants", "position": position},
                )
        names = _checked_names(tuple(name for name, _ in variants))
        basis_points = weights_to_basis_points(
            [weight for _, weight in variants], labels=[repr(name) for name in names]
        )
        if members is not None and isinstance(members, (str, bytes)):
            raise ValidationError(
                "members must be a collection of unit ids, not a single string",
                details={"field": "members"},
            )
        return cls(
            salt=salt,
            variant_names=names,
            basis_points=basis_points,
            coverage_percent=coverage_percent,
            targeting=None if condition is None else compile_condition(condition),
            members=None if members is None else frozenset(members),
        )

    def assign(self, unit_id: str, attributes: Mapping[str, object] | None = None) -> str | None:
        """The variant of one unit, or ``None`` when the unit is not in the experiment.

        The hot path: a handful of operations on values precomputed by the constructor.

        Args:
            unit_id: The unit's id, a non-empty string.
            attributes: The unit's attributes, read only when the plan has targeting.

        Returns:
            A variant name, or ``None`` when the unit is not a member, fails the targeting,
            or falls outside the coverage.

        Raises:
            ValidationError: ``unit_id`` is empty or not a string, or ``attributes`` is
                neither ``None`` nor a mapping while the plan has targeting.
        """
        try:
            key = unit_id.encode()
        except (AttributeError, UnicodeEncodeError):
            raise invalid_unit_id(unit_id) from None
        if not key:
            raise invalid_unit_id(unit_id)
        gate = self._gate
        if gate is not None and not gate(unit_id, attributes):
            return None
        return self._owners[bisect_right(self._edges, xxh3_64_intdigest(key, self._seed) % BUCKETS)]

    def assign_batch(
        self, unit_ids: UnitIds, attributes: BatchAttributes = None
    ) -> NDArray[np.int64]:
        """Variant indices of many units at once, equal to ``assign`` unit by unit.

        Args:
            unit_ids: As for ``bucket_batch``: strings, or integers standing for their
                decimal form.
            attributes: One mapping for all units, or a sequence with one mapping (or
                ``None``) per unit, read only when the plan has targeting.

        Returns:
            An ``int64`` array with the index into ``variant_names`` of each unit's variant,
            or -1 for units not in the experiment. ``variant_names_of`` turns it into names.

        Raises:
            ValidationError: an id is empty or of the wrong type, or ``attributes`` does not
                match ``unit_ids``.

        Examples:
            >>> plan = AssignmentPlan.from_weights("exp-1", [("control", 50), ("treatment", 50)])
            >>> indices = plan.assign_batch(["device-1", "device-2"])
            >>> plan.variant_names_of(indices) == [plan.assign("device-1"), plan.assign("device-2")]
            True
        """
        buckets, ids = hash_unit_ids(self._seed, unit_ids)
        indices = self._indices_by_bucket[buckets].astype(np.int64)
        if self.members is not None:
            is_member = np.fromiter(
                map(self.members.__contains__, ids), dtype=np.bool_, count=len(ids)
            )
            indices[~is_member] = _NOT_ASSIGNED
        if self.targeting is not None:
            indices[~self._targeted(self.targeting, attributes, len(ids))] = _NOT_ASSIGNED
        return indices

    def variant_names_of(self, indices: Iterable[int] | NDArray[np.integer]) -> list[str | None]:
        """Turn variant indices from ``assign_batch`` into names (``None`` for -1).

        Raises:
            ValidationError: an index is below -1 or not a variant's.
        """
        values = np.asarray(indices if isinstance(indices, np.ndarray) else list(indices))
        if values.size and (
            values.dtype.kind not in "iu"
            or values.min() < -1
            or values.max() >= len(self.variant_names)
        ):
            raise ValidationError(
                f"variant indices must be integers from -1 to {len(self.variant_names) - 1}",
                details={"field": "indices"},
            )
        names = (*self.variant_names, None)  # index -1 reads the trailing None
        return [names[index] for index in values.tolist()]

    @staticmethod
    def _targeted(
        targeting: AttributePredicate, attributes: BatchAttributes, count: int
    ) -> NDArray[np.bool_]:
        if attributes is None or isinstance(attributes, Mapping):
            matched = targeting(_checked_attributes(attributes))
            return np.full(count, matched, dtype=np.bool_)
        if not _is_sequence(attributes):
            raise ValidationError(
                "attributes must be a mapping or a sequence with one mapping per unit",
                details={"field": "attributes"},
            )
        if len(attributes) != count:
            raise ValidationError(
                f"got {len(attributes)} attribute mappings for {count} unit ids",
                details={"field": "attributes"},
            )
        return np.fromiter(
            (targeting(_checked_attributes(one)) for one in attributes),
            dtype=np.bool_,
            count=count,
        )


def _gate(members: frozenset[str] | None, targeting: AttributePredicate | None) -> _Gate | None:
    # One closure for whichever checks the plan has, so ``assign`` tests a single field.
    if targeting is None:
        if members is None:
            return None
        is_member = members.__contains__
        return lambda unit_id, attributes: is_member(unit_id)
    if members is None:
        return lambda unit_id, attributes: targeting(_checked_attributes(attributes))
    is_listed = members.__contains__
    return lambda unit_id, attributes: (
        is_listed(unit_id) and targeting(_checked_attributes(attributes))
    )


def _is_sequence(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _checked_attributes(attributes: object) -> Mapping[str, object]:
    if attributes is None:
        return _NO_ATTRIBUTES
    if type(attributes) is dict or isinstance(attributes, Mapping):
        return attributes
    raise ValidationError(
        f"attributes must be a mapping, got {type(attributes).__name__}",
        details={"field": "attributes"},
    )


def _edges_and_owners(
    ranges: Sequence[tuple[int, int]], names: Sequence[str]
) -> tuple[tuple[int, ...], tuple[str | None, ...]]:
    # owners[bisect_right(edges, bucket)] is the variant of the bucket: each edge closes the
    # interval of the owner at its position; gaps (outside the coverage) are owned by None.
    edges: list[int] = []
    owners: list[str | None] = []
    position = 0
    for name, (start, end) in zip(names, ranges, strict=True):
        if end == start:
            continue
        if start > position:
            edges.append(start)
            owners.append(None)
        edges.append(end)
        owners.append(name)
        position = end
    owners.append(None)
    return tuple(edges), tuple(owners)


def _checked_names(names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise ValidationError(
            "variant names must be a sequence of strings", details={"field": "variants"}
        )
    if len(names) < 2:
        raise ValidationError(
            f"an experiment needs at least 2 variants (control and a treatment), got {len(names)}",
            details={"field": "variants"},
        )
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(
                f"variant names must be non-empty strings, got {name!r}",
                details={"field": "variants"},
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValidationError(
            f"variant names must be unique, repeated: {', '.join(duplicates)}",
            details={"field": "variants", "duplicates": duplicates},
        )
    return tuple(names)


def _checked_basis_points(basis_points: Sequence[int], names: Sequence[str]) -> tuple[int, ...]:
    if (
        not isinstance(basis_points, Sequence)
        or len(basis_points) != len(names)
        or not all(isinstance(bp, int) and not isinstance(bp, bool) for bp in basis_points)
        or min(basis_points) < 0
        or sum(basis_points) != BUCKETS
    ):
        raise ValidationError(
            f"basis points must be {len(names)} integers >= 0 summing to {BUCKETS}, "
            f"got {basis_points!r}",
            details={"field": "basis_points"},
        )
    return tuple(basis_points)


def _checked_members(members: Iterable[str]) -> frozenset[str]:
    checked = frozenset(members)
    for member in checked:
        if not isinstance(member, str) or not member:
            raise ValidationError(
                f"members must be non-empty unit id strings, got {member!r}",
                details={"field": "members"},
            )
    return checked
