"""Use cases of the experiment lifecycle: create, read, update, launch ... archive.

Each use case runs in one transaction and writes its audit entry in that same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ablab.domain.allocations import AllocationReason
from ablab.domain.experiments import (
    Experiment,
    Variant,
    apply_action,
    split_weights,
    validate_name,
    validate_settings,
    validate_variants,
    with_primary_metric,
    with_traffic_split,
    with_variant_added,
    with_weights,
)
from ablab.domain.guardrails import parse_guardrail
from ablab.domain.ids import new_id
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.domain.rollouts import RolloutSettings
from ablab.domain.sequential import DEFAULT_TUNING_UNITS
from ablab.domain.specs import ExperimentChanges, ExperimentSpec, VariantSpec
from ablab.errors import Conflict, NotFound, ValidationError
from ablab.services.access.audit import experiment_snapshot, record
from ablab.services.context import Context
from ablab.services.experiments.allocation_periods import record_allocation
from ablab.services.experiments.catalogue import require_group, require_model
from ablab.services.experiments.metrics import resolve_metrics
from ablab.services.experiments.rollout_start import begin_rollout
from ablab.services.ports import MetadataSession

__all__ = [
    "add_variant",
    "create_experiment",
    "get_experiment",
    "list_experiments",
    "transition",
    "update_experiment",
]

_DEFAULT_ROLLOUT = RolloutSettings()


def create_experiment(ctx: Context, spec: ExperimentSpec) -> Experiment:
    """Create an experiment; it runs at once unless ``spec.draft``.

    Raises:
        ValidationError: bad weights, split, settings or variant list.
        NotFound: an unknown model, model version or device group.
        Conflict: the name is taken in the project.
    """
    now = ctx.clock()
    validate_name(spec.name, "experiment name")
    experiment = Experiment(
        id=new_id("exp"),
        project_id=ctx.project_id,
        name=spec.name,
        status=ExperimentStatus.DRAFT,
        # The salt is the id, not the name: renaming must never reshuffle units.
        salt="",
        created_at=now,
        updated_at=now,
        variants=_variants_of(spec),
        model=spec.model_id,
        hypothesis=spec.hypothesis,
        coverage=spec.coverage,
        group=spec.group,
        primary_metric=spec.primary_metric,
        secondary_metrics=tuple(spec.secondary_metrics),
        guardrails=tuple(parse_guardrail(g) for g in spec.guardrails),
        min_samples=spec.min_samples,
        max_duration_days=spec.max_duration_days,
        alpha=spec.alpha,
        power=spec.power,
        mde=spec.mde,
        analysis_method=spec.analysis_method,
        sequential_tuning_units=(
            DEFAULT_TUNING_UNITS
            if spec.sequential_tuning_units is None
            else spec.sequential_tuning_units
        ),
        cuped=spec.cuped,
        cuped_lookback_days=spec.cuped_lookback_days,
        cuped_covariate=spec.cuped_covariate,
        bandit=spec.bandit,
        shadow=spec.shadow,
        auto_promote=spec.auto_promote,
        source=spec.source,
    )
    experiment = replace(experiment, salt=experiment.id)
    validate_settings(experiment)
    validate_variants(experiment.variants, complete=bool(experiment.variants) or not spec.draft)
    if not spec.draft:
        experiment = apply_action(experiment, Action.LAUNCH, now)
    with ctx.store.session() as session:
        _check_references(session, ctx, experiment)
        if session.get_experiment(ctx.project_id, spec.name) is not None:
            raise Conflict(
                f"an experiment called {spec.name!r} already exists",
                details={"name": spec.name},
            )
        session.add_experiment(experiment)
        record_allocation(ctx, session, None, experiment, AllocationReason.LAUNCH)
        record(
            ctx,
            session,
            "create",
            "experiment",
            experiment.id,
            after=experiment_snapshot(experiment),
        )
    return experiment


def _variants_of(spec: ExperimentSpec) -> tuple[Variant, ...]:
    if spec.variants is not None:
        if spec.control_version or spec.treatment_version or spec.treatment_versions:
            raise ValidationError("give either variants or control/treatment versions, not both")
        variants = [_variant(v) for v in spec.variants]
        if variants and not any(v.is_control for v in variants):
            variants[0] = replace(variants[0], is_control=True)
        return tuple(variants)
    treatments = [
        *([spec.treatment_version] if spec.treatment_version else []),
        *spec.treatment_versions,
    ]
    if spec.control_version is None and not treatments:
        return ()
    if spec.control_version is None or not treatments:
        raise ValidationError(
            "an experiment needs a control version and at least one treatment version"
        )
    if spec.model_id is None:
        raise ValidationError("give the model whose versions the experiment compares")
    weights = split_weights(spec.traffic_split, len(treatments))
    names = (
        ["treatment"]
        if len(treatments) == 1
        else [f"treatment_{i}" for i in range(1, len(treatments) + 1)]
    )
    return (
        Variant("control", weights[0], spec.control_version, is_control=True),
        *(Variant(n, w, v) for n, w, v in zip(names, weights[1:], treatments, strict=True)),
    )


def _variant(spec: VariantSpec) -> Variant:
    return Variant(
        name=spec.name,
        weight=spec.weight,
        model_version=spec.model_version,
        config=dict(spec.config),
        is_control=spec.is_control,
    )


def _check_references(session: MetadataSession, ctx: Context, experiment: Experiment) -> None:
    """The model, its versions, the group, the custom metrics and the source named must
    exist."""
    if (
        experiment.source is not None
        and session.get_source(ctx.project_id, experiment.source) is None
    ):
        raise NotFound(
            f"unknown source {experiment.source!r}: add it with `ablab source add`",
            details={"source": experiment.source},
        )
    resolve_metrics(
        session,
        ctx,
        (
            experiment.primary_metric,
            *experiment.secondary_metrics,
            *(g.metric for g in experiment.guardrails),
        ),
    )
    if experiment.group is not None:
        require_group(session, ctx, experiment.group)
    versions = [v.model_version for v in experiment.variants if v.model_version is not None]
    if experiment.model is None:
        if versions:
            raise ValidationError("variants name model versions but the experiment has no model")
        return
    model = require_model(session, ctx, experiment.model)
    for version in versions:
        if session.get_model_version(model.id, version) is None:
            raise NotFound(
                f"model {model.name!r} has no version {version!r}: register it with "
                f"`ablab model register {model.name} {version} --endpoint URL`",
                details={"model": model.name, "version": version},
            )


def get_experiment(ctx: Context, ref: str) -> Experiment:
    """The experiment with id or name ``ref``.

    Raises:
        NotFound: no such experiment in the project.
    """
    with ctx.store.session(read_only=True) as session:
        return require_experiment(session, ctx, ref)


def require_experiment(session: MetadataSession, ctx: Context, ref: str) -> Experiment:
    experiment = session.get_experiment(ctx.project_id, ref)
    if experiment is None:
        raise NotFound(f"unknown experiment {ref!r}", details={"experiment": ref})
    return experiment


def list_experiments(ctx: Context, status: ExperimentStatus | None = None) -> list[Experiment]:
    """The project's experiments, newest first."""
    with ctx.store.session(read_only=True) as session:
        return session.list_experiments(ctx.project_id, status)


def update_experiment(
    ctx: Context,
    ref: str,
    spec: ExperimentChanges,
    *,
    reason: AllocationReason = AllocationReason.SPLIT,
) -> Experiment:
    """Apply the fields given in ``spec``.

    A new split applies to units never assigned before; assigned units keep their variant.
    A split change of a launched experiment starts an allocation period, recorded with
    ``reason`` (a bandit's rebalance says so).

    Raises:
        Conflict: ``spec.expected_version`` is stale, or a concurrent write won.
        InvalidTransition: changing the split or the primary metric of an experiment that
            has ended.
        ValidationError: a split outside 0..100, weights not summing to 100, ...
        NotFound: a primary metric neither built in nor defined in the project.
    """
    if spec.traffic_split is not None and spec.weights is not None:
        raise ValidationError("give either a traffic split or weights, not both")
    with ctx.store.session() as session:
        current = require_experiment(session, ctx, ref)
        _check_expected(current, spec.expected_version)
        now = ctx.clock()
        updated = current
        if spec.traffic_split is not None:
            updated = with_traffic_split(updated, spec.traffic_split, now)
        if spec.weights is not None:
            updated = with_weights(updated, spec.weights, now)
        if spec.primary_metric is not None:
            updated = with_primary_metric(updated, spec.primary_metric, now)
        changes: dict[str, Any] = {}
        if spec.hypothesis is not None:
            changes["hypothesis"] = spec.hypothesis
        if spec.min_samples is not None:
            changes["min_samples"] = spec.min_samples
        if spec.max_duration_days is not None:
            changes["max_duration_days"] = spec.max_duration_days
        if spec.guardrails is not None:
            changes["guardrails"] = tuple(parse_guardrail(g) for g in spec.guardrails)
        if spec.auto_promote is not None:
            changes["auto_promote"] = spec.auto_promote
        if spec.source is not None:
            changes["source"] = spec.source or None
        if changes:
            updated = replace(updated, updated_at=now, **changes)
        if changes or spec.primary_metric is not None:
            # The checks of a creation: known metrics, settings that hold together.
            validate_settings(updated)
            _check_references(session, ctx, updated)
        if replace(updated, updated_at=current.updated_at) == current:
            return current  # nothing changed: no write, no audit entry, no new version
        return _write(ctx, session, current, updated, "update", reason=reason)


def _check_expected(current: Experiment, expected_version: int | None) -> None:
    """Refuse a change based on another version than the stored one (the write that
    follows is conditional on the stored one: a writer between the two loses there).

    Raises:
        Conflict: ``expected_version`` is given and is not the stored version.
    """
    if expected_version is not None and expected_version != current.version:
        raise Conflict(
            f"experiment {current.name!r} is at version {current.version}, "
            f"not {expected_version}: read it again and retry",
            details={"version": current.version, "expected": expected_version},
        )


def transition(
    ctx: Context,
    ref: str,
    action: Action,
    *,
    variant: str | None = None,
    rollout: RolloutSettings | None = _DEFAULT_ROLLOUT,
    expected_version: int | None = None,
    forced: str | None = None,
) -> Experiment:
    """Launch, pause, resume, stop, promote or archive.

    ``forced`` says why a promotion had no evidence behind it (see
    ``services.rollouts.promotion``): it is written to the audit log as a ``forced_promotion``
    entry beside the promotion, in the same transaction.

    ``variant`` names the treatment to promote when there are several. Promoting a winner
    that serves another model version than the control starts a rollout of that version
    in ``rollout``'s steps (None: everyone gets it at once). ``expected_version`` is the
    version the caller saw: the action is refused if the experiment changed since, so of
    two people acting on the same page at once only the first one's action is taken.

    Each action is one conditional write (``UPDATE ... WHERE version = :read``) with its
    audit entry and, for a promotion, its rollout, in one transaction: a concurrent
    writer on another server makes it a Conflict with nothing written.

    Raises:
        InvalidTransition: the action is not allowed from the current status.
        Conflict: ``expected_version`` is stale, a concurrent write won, or promoting while
            another rollout of the model is in progress.
    """
    with ctx.store.session() as session:
        current = require_experiment(session, ctx, ref)
        _check_expected(current, expected_version)
        if action is Action.LAUNCH:
            _check_references(session, ctx, current)
        updated = apply_action(current, action, ctx.clock(), winner=variant)
        stored = _write(ctx, session, current, updated, action.value)
        if action is Action.PROMOTE and forced is not None:
            record(
                ctx,
                session,
                "forced_promotion",
                "experiment",
                stored.id,
                after={"winner": stored.winner, "without_evidence": forced},
            )
        if action is Action.PROMOTE and rollout is not None:
            begin_rollout(ctx, session, stored, rollout)
        return stored


def add_variant(ctx: Context, ref: str, spec: VariantSpec) -> Experiment:
    """Add a variant to a draft (the first one becomes the control).

    Raises:
        InvalidTransition: the experiment has been launched.
    """
    with ctx.store.session() as session:
        current = require_experiment(session, ctx, ref)
        updated = with_variant_added(current, _variant(spec), ctx.clock())
        _check_references(session, ctx, updated)
        return _write(ctx, session, current, updated, "add_variant")


def _write(
    ctx: Context,
    session: MetadataSession,
    before: Experiment,
    after: Experiment,
    action: str,
    *,
    reason: AllocationReason = AllocationReason.SPLIT,
) -> Experiment:
    stored = session.update_experiment(after)
    record_allocation(ctx, session, before, stored, reason)
    record(
        ctx,
        session,
        action,
        "experiment",
        stored.id,
        before=experiment_snapshot(before),
        after=experiment_snapshot(stored),
    )
    return stored
