"""Deterministic assignment of units to experiment variants.

Pure functions and immutable plans: a unit id, an experiment's configuration and the unit's
attributes in, a variant name (or ``None``) out. Nothing here stores or remembers anything;
sticky assignment is the caller's. The modules each do one job:

- ``hashing``: the versioned, frozen bucket hash (``bucket``, ``bucket_batch``).
- ``allocation``: weights in percent to basis points and bucket ranges.
- ``conditions``: Mongo-style targeting conditions compiled to predicates.
- ``versions``: version-string ordering for targeting ("2.10" > "2.9").
- ``plan``: ``AssignmentPlan``, all of the above compiled for one experiment.
- ``rules``: ``ExperimentRules``, the typed ruleset of one experiment (also the SDK's).
- ``decide``: ``decide``, the one function that says what a unit is served.

Examples:
    >>> from ablab.assignment import AssignmentPlan
    >>> plan = AssignmentPlan.from_weights(
    ...     "radiology-v1-2025-05",
    ...     [("control", 50), ("treatment", 50)],
    ...     condition={"region": {"$in": ["eu", "us"]}},
    ... )
    >>> plan.assign("device-42", {"region": "apac"}) is None
    True
"""

from ablab.assignment.allocation import bucket_ranges, weights_to_basis_points
from ablab.assignment.conditions import AttributePredicate, compile_condition, validate_condition
from ablab.assignment.decide import (
    NEEDS_STORED,
    UNKNOWN,
    Assignment,
    AssignmentReason,
    decide,
)
from ablab.assignment.hashing import BUCKETS, HASH_VERSION, bucket, bucket_batch, salt_seed
from ablab.assignment.plan import AssignmentPlan
from ablab.assignment.rules import (
    CompiledRules,
    ExperimentRules,
    GoverningRollout,
    OwnRollout,
    Targeting,
    VariantRule,
    compile_rules,
    in_share,
)
from ablab.assignment.versions import Version, compare_versions, parse_version

__all__ = [
    "BUCKETS",
    "HASH_VERSION",
    "NEEDS_STORED",
    "UNKNOWN",
    "Assignment",
    "AssignmentPlan",
    "AssignmentReason",
    "AttributePredicate",
    "CompiledRules",
    "ExperimentRules",
    "GoverningRollout",
    "OwnRollout",
    "Targeting",
    "VariantRule",
    "Version",
    "bucket",
    "bucket_batch",
    "bucket_ranges",
    "compare_versions",
    "compile_condition",
    "compile_rules",
    "decide",
    "in_share",
    "parse_version",
    "salt_seed",
    "validate_condition",
    "weights_to_basis_points",
]
