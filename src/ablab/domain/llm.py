"""LLM configuration experiments: a baseline, and a tree of one-change variants.

An LLM experiment compares configurations of the inference steps of a pipeline (named by
their ``external_id``, such as ``response_generator``) over a fixed task set. The baseline
gives each step in scope its configuration, ``{step: {parameter: value}}``. A variant changes
exactly one parameter of one step, so any change in the pass rate has one cause.

Variants form a tree rooted at the baseline: a variant branches from the baseline
(``parent_id=None``) or from another variant. Its effective configuration is the baseline with
the overrides of its whole lineage applied root first, so the nearest ancestor wins when two
of them set the same parameter of the same step::

    baseline  {response_generator: {model: gpt-4o-mini, temperature: 0.7}}
    └── A     temperature = 0.3
        └── B model = gpt-4o        effective: {model: gpt-4o, temperature: 0.3}
            └── C temperature = 0.1 effective: {model: gpt-4o, temperature: 0.1}

The parameters and their values are in :mod:`ablab.domain.llm_parameters` and the lifecycle
(statuses, actions, the locked scope) in :mod:`ablab.domain.llm_lifecycle`, both re-exported
here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ablab.domain.limits import MAX_LABEL_LENGTH, check_identifier
from ablab.domain.llm_lifecycle import (
    LlmAction,
    LlmStatus,
    allowed_actions,
    next_status,
    scope_locked,
)
from ablab.domain.llm_parameters import (
    Parameter,
    Verbosity,
    as_parameter,
    check_config,
    check_step,
    check_value,
    shown,
)
from ablab.errors import Conflict, ValidationError

__all__ = [
    "LlmAction",
    "LlmStatus",
    "LlmVariant",
    "Parameter",
    "Verbosity",
    "allowed_actions",
    "check_changes_something",
    "check_config",
    "check_value",
    "check_variant",
    "effective_config",
    "lineage",
    "next_status",
    "overrides",
    "scope_locked",
]


@dataclass(frozen=True, slots=True)
class LlmVariant:
    """One change to one parameter of one step, on top of its parent's configuration.

    ``parent_id`` is None for a variant that branches from the baseline.
    """

    id: str
    name: str
    parent_id: str | None
    step: str
    parameter: Parameter
    value: object
    hypothesis: str = ""
    created_at: datetime | None = None


def check_variant(
    steps: Sequence[str], variants: Mapping[str, LlmVariant], new: LlmVariant
) -> LlmVariant:
    """``new``, checked against the experiment's steps and its variants, with its value
    normalised.

    Args:
        steps: The external ids of the steps in scope.
        variants: The experiment's variants so far, by id.
        new: The variant to add.

    Raises:
        ValidationError: the step is out of scope, the parent unknown, the name empty or the
            value invalid.
        Conflict: a variant with the same id or name exists already.

    Examples:
        >>> a = LlmVariant("v1", "cooler", None, "classifier", Parameter.TEMPERATURE, 0)
        >>> check_variant(["classifier"], {}, a).value
        0.0
    """
    if not new.name.strip():
        raise ValidationError("a variant needs a name")
    check_identifier(new.name, "name", max_length=MAX_LABEL_LENGTH)
    if new.id in variants:
        raise Conflict(f"a variant with id {new.id!r} exists already", details={"id": new.id})
    if any(v.name == new.name for v in variants.values()):
        raise Conflict(
            f"a variant called {new.name!r} exists already: choose another name",
            details={"name": new.name},
        )
    check_step(new.step, steps)
    if new.parent_id is not None and new.parent_id not in variants:
        raise ValidationError(
            f"unknown parent variant {new.parent_id!r}: branch from an existing variant or "
            "from the baseline",
            details={"parent_id": new.parent_id},
        )
    parameter = as_parameter(new.parameter, step=new.step)
    return replace(new, parameter=parameter, value=check_value(parameter, new.value))


def lineage(variants: Mapping[str, LlmVariant], variant_id: str) -> list[LlmVariant]:
    """The ancestors of ``variant_id`` and the variant itself, root first.

    Raises:
        ValidationError: ``variant_id`` or one of its ancestors is unknown, or the parents
            form a cycle (stored data no check_variant would have produced).

    Examples:
        >>> a = LlmVariant("a", "cooler", None, "s", Parameter.TEMPERATURE, 0.3)
        >>> b = LlmVariant("b", "bigger", "a", "s", Parameter.MODEL, "gpt-4o")
        >>> [v.id for v in lineage({"a": a, "b": b}, "b")]
        ['a', 'b']
    """
    chain: list[LlmVariant] = []
    seen: set[str] = set()
    current: str | None = variant_id
    while current is not None:
        if current in seen:
            raise ValidationError(
                f"the parents of variant {variant_id!r} form a cycle through {current!r}",
                details={"variant_id": variant_id, "cycle_at": current},
            )
        seen.add(current)
        variant = variants.get(current)
        if variant is None:
            whose = "" if current == variant_id else f" (an ancestor of {variant_id!r})"
            raise ValidationError(
                f"unknown variant {current!r}{whose}", details={"variant_id": current}
            )
        chain.append(variant)
        current = variant.parent_id
    chain.reverse()
    return chain


def overrides(
    variants: Mapping[str, LlmVariant], variant_id: str | None
) -> dict[str, dict[str, object]]:
    """The overrides a variant applies to the baseline, ``{step: {parameter: value}}``.

    The lineage's changes are applied root first, so the nearest ancestor (or the variant
    itself) wins when two set the same parameter of the same step. The webhook payload
    carries them as ``changes``, beside the whole configuration (:func:`effective_config`)
    the application runs with. The baseline (``variant_id=None``) changes nothing.

    Raises:
        ValidationError: as :func:`lineage`.

    Examples:
        >>> a = LlmVariant("a", "cooler", None, "s", Parameter.TEMPERATURE, 0.3)
        >>> b = LlmVariant("b", "bigger", "a", "s", Parameter.MODEL, "gpt-4o")
        >>> c = LlmVariant("c", "coolest", "b", "s", Parameter.TEMPERATURE, 0.1)
        >>> overrides({"a": a, "b": b, "c": c}, "c")
        {'s': {'temperature': 0.1, 'model': 'gpt-4o'}}
        >>> overrides({"a": a}, None)
        {}
    """
    merged: dict[str, dict[str, object]] = {}
    if variant_id is None:
        return merged
    for variant in lineage(variants, variant_id):
        parameter = as_parameter(variant.parameter, step=variant.step)
        merged.setdefault(variant.step, {})[parameter.value] = variant.value
    return merged


def effective_config(
    baseline: Mapping[str, Mapping[str, object]],
    variants: Mapping[str, LlmVariant],
    variant_id: str | None,
) -> dict[str, dict[str, object]]:
    """The configuration a variant runs with: the baseline, then its lineage's overrides.

    Returns new dictionaries; ``baseline`` is left as it was.

    Raises:
        ValidationError: as :func:`lineage`.

    Examples:
        >>> baseline = {"s": {"model": "gpt-4o-mini", "temperature": 0.7}}
        >>> a = LlmVariant("a", "cooler", None, "s", Parameter.TEMPERATURE, 0.3)
        >>> b = LlmVariant("b", "bigger", "a", "s", Parameter.MODEL, "gpt-4o")
        >>> effective_config(baseline, {"a": a, "b": b}, "b")
        {'s': {'model': 'gpt-4o', 'temperature': 0.3}}
        >>> effective_config(baseline, {"a": a, "b": b}, None) == baseline
        True
    """
    config = {step: dict(params) for step, params in baseline.items()}
    for step, changes in overrides(variants, variant_id).items():
        config.setdefault(step, {}).update(changes)
    return config


def check_changes_something(
    baseline: Mapping[str, Mapping[str, object]],
    variants: Mapping[str, LlmVariant],
    variant_id: str,
) -> None:
    """Refuse a variant whose configuration is its parent's: it would run the parent again
    and call the difference an effect.

    Raises:
        Conflict: the variant's effective configuration equals its parent's (the parent
            already has that value, from the baseline or an ancestor's change).
        ValidationError: as :func:`lineage`.

    Examples:
        >>> baseline = {"s": {"temperature": 0.7}}
        >>> same = LlmVariant("a", "same", None, "s", Parameter.TEMPERATURE, 0.7)
        >>> check_changes_something(baseline, {"a": same}, "a")
        Traceback (most recent call last):
        ...
        ablab.errors.Conflict: variant 'same' changes nothing: s.temperature is 0.7 in the ...
    """
    variant = variants[variant_id]
    mine = effective_config(baseline, variants, variant_id)
    parents = effective_config(baseline, variants, variant.parent_id)
    if mine != parents:
        return
    parent = "the baseline"
    if variant.parent_id is not None:
        parent = f"its parent {variants[variant.parent_id].name!r}"
    setting = f"{variant.step}.{as_parameter(variant.parameter).value}"
    raise Conflict(
        f"variant {variant.name!r} changes nothing: {setting} is {_shown_value(variant.value)} "
        f"in {parent} already; choose another value, parameter or step",
        details={
            "variant": variant.name,
            "parent": variant.parent_id,
            "step": variant.step,
            "parameter": as_parameter(variant.parameter).value,
            "value": shown(variant.value),
        },
    )


def _shown_value(value: object) -> str:
    safe = shown(value)
    return repr(safe) if isinstance(safe, str) else str(safe)
