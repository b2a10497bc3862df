"""``client.experiments``: create experiments, move them through their lifecycle, read results.

Its options are typed from the wire schemas (``ExperimentCreate``, ``ExperimentUpdate``);
``tests/client/test_typed_options.py`` keeps the signatures and the schemas in step.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Literal

from ablab.client import _api as api
from ablab.client._backend import Backend
from ablab.client._options import UNSET, UnsetType, given
from ablab.contract.base import Schema, parse
from ablab.contract.catalogue import AuditEntryPublic
from ablab.contract.experiments import (
    ExperimentCreate,
    ExperimentPublic,
    ExperimentUpdate,
    ExperimentWithWarnings,
    VariantCreate,
)
from ablab.contract.fields import (
    Count,
    Coverage,
    DurationDays,
    Flag,
    Identifier,
    Label,
    LookbackDays,
    Mde,
    Percent,
    Probability,
    RecordVersion,
    Text,
    Weight,
)
from ablab.contract.results import ExperimentResults
from ablab.contract.rollouts import PromoteRequest
from ablab.contract.timeseries import ExperimentTimeseries
from ablab.domain.experiments import AnalysisMethod
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.stats.priors import parse_prior

__all__ = ["Experiments"]


class Experiments:
    """Create experiments and move them through their lifecycle.

    Every method that takes ``ref`` accepts the experiment's id or its name.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def create(
        self,
        name: Label,
        *,
        model_id: Identifier | None = None,
        control_version: Identifier | None = None,
        treatment_version: Identifier | None = None,
        treatment_versions: builtins.list[Identifier] | UnsetType = UNSET,
        traffic_split: Percent = 50.0,
        variants: builtins.list[VariantCreate] | UnsetType | None = UNSET,
        hypothesis: Text | UnsetType = UNSET,
        group: Identifier | UnsetType | None = UNSET,
        coverage: Coverage | UnsetType = UNSET,
        primary_metric: Identifier | UnsetType = UNSET,
        secondary_metrics: builtins.list[Identifier] | UnsetType = UNSET,
        guardrails: builtins.list[Identifier] | UnsetType = UNSET,
        min_samples: Count | UnsetType = UNSET,
        max_duration_days: DurationDays | UnsetType | None = UNSET,
        alpha: Probability | UnsetType = UNSET,
        power: Probability | UnsetType = UNSET,
        mde: Mde | UnsetType | None = UNSET,
        analysis_method: AnalysisMethod | str | UnsetType = UNSET,
        sequential_tuning_units: Count | UnsetType | None = UNSET,
        cuped: Flag | UnsetType = UNSET,
        cuped_lookback_days: LookbackDays | UnsetType = UNSET,
        cuped_covariate: Identifier | UnsetType | None = UNSET,
        bandit: Flag | UnsetType = UNSET,
        shadow: Flag | UnsetType = UNSET,
        auto_promote: Flag | UnsetType = UNSET,
        draft: Flag | UnsetType = UNSET,
        source: Identifier | UnsetType | None = UNSET,
    ) -> ExperimentWithWarnings:
        """Create an experiment; it runs at once unless ``draft=True``.

        The keyword options are the fields of ``ExperimentCreate``, with its types (a test
        keeps them in step). The short form's five are always sent; an option left out is
        not, so the server's default applies (``primary_metric="accuracy"``, ``alpha=0.05``,
        ``min_samples=100``, ...). Its ``warnings`` say when another experiment's rollout of
        the model is active, so this one draws its units only from the rollout's share.

        Raises:
            ValidationError: a value the schema refuses, naming the field.
        """
        return self._backend.call(api.create_experiment, parse(ExperimentCreate, given(locals())))

    def get(self, ref: str) -> ExperimentPublic:
        return self._backend.call(api.get_experiment, ref)

    def list(self, status: ExperimentStatus | str | None = None) -> list[ExperimentPublic]:
        wanted = parse(_StatusFilter, {"status": status}).status
        return self._backend.call(api.list_experiments, wanted)

    def update(
        self,
        ref: str,
        *,
        traffic_split: Percent | UnsetType | None = UNSET,
        weights: dict[Label, Weight] | UnsetType | None = UNSET,
        hypothesis: Text | UnsetType | None = UNSET,
        min_samples: Count | UnsetType | None = UNSET,
        max_duration_days: DurationDays | UnsetType | None = UNSET,
        guardrails: builtins.list[Identifier] | UnsetType | None = UNSET,
        auto_promote: Flag | UnsetType | None = UNSET,
        primary_metric: Identifier | UnsetType | None = UNSET,
        source: Identifier | Literal[""] | UnsetType | None = UNSET,
        expected_version: RecordVersion | UnsetType | None = UNSET,
    ) -> ExperimentPublic:
        """Change the fields of ``ExperimentUpdate`` that are given (and only those).

        ``expected_version`` makes the write a ``Conflict`` if the experiment changed since
        it was read. ``source=""`` reads the experiment from ablab's own events again.
        ``primary_metric`` may change until the experiment ends; the next results read
        every event with it.
        """
        spec = parse(ExperimentUpdate, given(locals(), leave=("ref",)))
        return self._backend.call(api.update_experiment, ref, spec)

    def update_split(self, ref: str, *, traffic_split: float) -> ExperimentPublic:
        """Send ``traffic_split`` percent to the treatments, for units not yet assigned."""
        return self.update(ref, traffic_split=traffic_split)

    def add_variant(
        self,
        ref: str,
        name: str,
        *,
        weight: float = 0.0,
        model_version: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> ExperimentPublic:
        spec = parse(
            VariantCreate,
            {
                "name": name,
                "weight": weight,
                "model_version": model_version,
                "config": config or {},
            },
        )
        return self._backend.call(api.add_variant, ref, spec)

    def launch(self, ref: str) -> ExperimentWithWarnings:
        """Start a draft; ``warnings`` as for :meth:`create`."""
        return self._backend.call(api.transition, ref, Action.LAUNCH)

    def pause(self, ref: str) -> ExperimentPublic:
        """Serve every unit the control model; assignments are kept for the resume."""
        return self._backend.call(api.transition, ref, Action.PAUSE)

    def resume(self, ref: str) -> ExperimentWithWarnings:
        """Resume a paused experiment; ``warnings`` as for :meth:`create`."""
        return self._backend.call(api.transition, ref, Action.RESUME)

    def stop(self, ref: str) -> ExperimentPublic:
        """End the experiment keeping the control version."""
        return self._backend.call(api.transition, ref, Action.STOP)

    def promote(
        self,
        ref: str,
        variant: str | None = None,
        *,
        rollout: bool = True,
        steps: builtins.list[float] | None = None,
        min_step_minutes: float | None = None,
        min_step_units: int | None = None,
        force: bool = False,
    ) -> ExperimentWithWarnings:
        """End the experiment making ``variant`` (default: the only treatment) the winner.

        Only when the results recommend it: otherwise ``Conflict`` says what the evidence
        lacks, unless ``force=True``, which promotes anyway and is audited as a forced
        promotion. A winner on another model version than the control's is rolled out in
        ``steps`` (default 10, 25, 50, 100 percent; see ``client.rollouts``), each held at
        least ``min_step_minutes`` (60) and ``min_step_units`` units per version (100), with
        ``rollout=False`` it goes to everyone at once. While that rollout runs, experiments
        on the model draw their units only from its share: ``warnings`` says so.
        """
        fields: dict[str, Any] = {"variant": variant, "rollout": rollout}
        if force:
            fields["force"] = True
        given = {"steps": steps, "min_step_minutes": min_step_minutes,
                 "min_step_units": min_step_units}  # fmt: skip
        fields.update({k: v for k, v in given.items() if v is not None})
        return self._backend.call(api.promote, ref, parse(PromoteRequest, fields))

    def archive(self, ref: str) -> ExperimentPublic:
        return self._backend.call(api.transition, ref, Action.ARCHIVE)

    def results(
        self,
        ref: str,
        *,
        segment: str | None = None,
        prior: str | Sequence[str] | None = None,
    ) -> ExperimentResults:
        """Per-variant metrics, comparisons, SRM, guardrails and the recommendation.

        ``segment`` names a unit attribute (from exposures) to break the primary metric
        down by. ``prior`` chooses the Bayesian prior of this analysis: ``"jeffreys"``
        (default), ``"uniform"`` or ``"beta:A,B"`` for proportions, ``"flat"`` (default) or
        ``"normal:M,V"`` on the relative effect, one term or several (each comparison row
        states the prior it used). Analysing also takes the automatic actions (a broken
        guardrail stops the experiment; with auto-promote a clear winner is promoted).

        Raises:
            ValidationError: a prior outside that grammar (``details["field"] == "prior"``).
        """
        terms: tuple[str, ...] = ()
        if prior is not None:
            terms = tuple(prior.split()) if isinstance(prior, str) else tuple(prior)
            parse_prior(prior)  # refused here, before any request
        return self._backend.call(api.results, ref, segment, terms)

    def rebalance(self, ref: str) -> ExperimentPublic:
        """Bandit mode: move the weights toward the better arm now (Thompson sampling)."""
        return self._backend.call(api.rebalance, ref)

    def timeseries(
        self, ref: str, *, metric: str | None = None, interval: str = "day"
    ) -> ExperimentTimeseries:
        """The metric (default: primary) per variant and each lift, cumulatively by
        ``interval`` (minute, hour or day), with the lift's confidence sequence."""
        return self._backend.call(api.timeseries, ref, metric, interval)

    def assignment_counts(self, ref: str) -> dict[str, int]:
        """How many units are assigned to each variant."""
        return self._backend.call(api.assignment_counts, ref)

    def audit(self, ref: str, limit: int = 100) -> builtins.list[AuditEntryPublic]:
        """The experiment's audit log, newest first."""
        return self._backend.call(api.experiment_audit, ref, limit)


class _StatusFilter(Schema):
    status: ExperimentStatus | None = None
