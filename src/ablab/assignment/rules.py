"""The rules one experiment assigns its units by: a typed, plain-data ruleset.

The server builds them from its stores and answers assignments from them; it also sends
them to SDKs (``GET /v1/sdk/config``), which assign locally with the same function
(:func:`ablab.assignment.decide.decide`). One type on both sides of the wire means the SDK
and the server can never read the rules differently.

Everything here is data: plain frozen dataclasses that pydantic validates and serialises
as they are. :func:`compile_rules` turns them into what the hot path needs (the bucket plan
and the targeting predicate), once per ruleset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from ablab.assignment.conditions import compile_condition
from ablab.assignment.hashing import BUCKETS, bucket
from ablab.assignment.plan import AssignmentPlan

__all__ = [
    "CompiledRules",
    "ExperimentRules",
    "ExperimentState",
    "GoverningRollout",
    "OwnRollout",
    "RolloutState",
    "Targeting",
    "VariantRule",
    "compile_rules",
    "in_share",
]

ExperimentState: TypeAlias = Literal[
    "draft", "running", "paused", "stopped", "promoted", "archived"
]
RolloutState: TypeAlias = Literal["running", "paused", "completed", "rolled_back"]


@dataclass(frozen=True, slots=True)
class VariantRule:
    """A variant as assignment sees it: its name, weight in percent and model version."""

    name: str
    weight: float
    model_version: str | None
    is_control: bool


@dataclass(frozen=True, slots=True)
class Targeting:
    """The experiment's device group: a condition on attributes, or a member list."""

    name: str
    condition: dict[str, Any] | None = None
    members: tuple[str, ...] | None = None  # sorted, so the ruleset's text is stable


@dataclass(frozen=True, slots=True)
class OwnRollout:
    """The experiment's own latest rollout (after a promotion)."""

    id: str
    status: RolloutState
    share: float


@dataclass(frozen=True, slots=True)
class GoverningRollout:
    """Another experiment's rollout of the same model, in progress: it bounds who may enter."""

    id: str
    share: float
    previous_version: str | None


@dataclass(frozen=True, slots=True)
class ExperimentRules:
    """Everything the assignment of one experiment depends on, and nothing more.

    Attributes:
        id: The experiment's id.
        name: Its name (units are answered under this name).
        status: Its lifecycle status; only a running experiment assigns.
        salt: The hash salt (the experiment's id: a rename never reshuffles).
        coverage: Percent of eligible units that enter.
        variants: Control first, with weights in percent.
        winner: The promoted variant, if any.
        plan_changed: Whether the weights or the coverage changed while it ran: then a unit
            not seen before may hold an older variant, and its stored one must be read.
        group: The target group, if any.
        rollout: The experiment's own latest rollout, if promoted.
        governing_rollout: Another experiment's rollout of this model in progress.
    """

    id: str
    name: str
    status: ExperimentState
    salt: str
    coverage: float
    variants: tuple[VariantRule, ...]
    winner: str | None = None
    plan_changed: bool = False
    group: Targeting | None = None
    rollout: OwnRollout | None = None
    governing_rollout: GoverningRollout | None = None


Membership: TypeAlias = Callable[[str, Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """:class:`ExperimentRules` with their bucket plan and targeting compiled, for the hot path."""

    rules: ExperimentRules
    plan: AssignmentPlan | None
    targeted: Membership | None
    control: VariantRule | None
    versions: Mapping[str, str | None] = field(repr=False)


def compile_rules(rules: ExperimentRules) -> CompiledRules:
    """Compile ``rules`` once; :func:`~ablab.assignment.decide.decide` then takes microseconds.

    Raises:
        ValidationError: the weights, the coverage or the condition are malformed.
    """
    plan = None
    if len(rules.variants) >= 2:
        plan = AssignmentPlan.from_weights(
            rules.salt,
            [(v.name, v.weight) for v in rules.variants],
            coverage_percent=rules.coverage,
        )
    return CompiledRules(
        rules=rules,
        plan=plan,
        targeted=_membership(rules.group),
        control=next((v for v in rules.variants if v.is_control), None),
        versions={v.name: v.model_version for v in rules.variants},
    )


def in_share(rollout_id: str, share: float, unit_id: str) -> bool:
    """Whether ``unit_id`` is among the ``share`` percent of units a rollout has reached.

    The bucket is salted by the rollout's id alone, so it never changes while the share
    grows: the units reached at 10% are among those reached at 25%.

    Examples:
        >>> in_share("ro_1", 100.0, "device-42"), in_share("ro_1", 0.0, "device-42")
        (True, False)
    """
    return bucket(rollout_id, unit_id) < share * BUCKETS / 100


def _membership(group: Targeting | None) -> Membership | None:
    if group is None:
        return None
    if group.condition is not None:
        predicate = compile_condition(group.condition)
        return lambda unit_id, attributes: bool(predicate(attributes))
    members = frozenset(group.members or ())
    return lambda unit_id, attributes: unit_id in members
