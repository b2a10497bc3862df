"""Wire schema of an experiment's results (DESIGN.md, "Results").

``ExperimentResults`` is what ``GET /experiments/{ref}/results``, ``ablab experiment results
--output json`` and ``client.experiments.results(ref)`` return. In Python it also reads as
seed 000 shows: ``results.control.accuracy``, ``results.treatment.accuracy``,
``results.is_significant``, ``results.p_value``, ``results.recommendation``.
"""

from __future__ import annotations

from pydantic import Field

from ablab.contract.analysis import (
    ComparisonPublic,
    DecisionPublic,
    DurationPublic,
    MinSamplesRule,
    SrmPublic,
)
from ablab.contract.base import Schema
from ablab.contract.experiments import ExperimentPublic

__all__ = [
    "BanditArm",
    "ExperimentResults",
    "GuardrailResult",
    "MetricValue",
    "SegmentBreakdown",
    "SegmentComparison",
    "SegmentResult",
    "SegmentVariant",
    "ShadowReport",
    "ShadowValue",
    "VariantResults",
]


class MetricValue(Schema):
    value: float | None
    n: int = Field(description="units behind the value (predictions for latency_p95_ms)")
    ci: tuple[float | None, float | None]


class VariantResults(Schema):
    """One variant's figures and counts.

    The counts, named the same way in the CLI table and the console: ``units_exposed``
    (every unit seen, through an exposure or a prediction; ``units`` is the same number,
    kept for older readers), ``units_with_predictions``, ``units_with_labels`` (units with
    at least one labelled prediction), ``predictions``, ``labels`` (labelled predictions)
    and ``conversions`` (units converted, when the primary metric is a proportion).
    """

    name: str
    model_version: str | None
    weight: float
    units: int
    predictions: int
    metrics: dict[str, MetricValue]
    units_exposed: int = 0
    units_with_predictions: int = 0
    units_with_labels: int = 0
    labels: int = 0
    conversions: int | None = None

    def metric(self, name: str) -> float | None:
        """The value of metric ``name`` (None when there is no data for it yet)."""
        found = self.metrics.get(name)
        return found.value if found is not None else None

    @property
    def accuracy(self) -> float | None:
        return self.metric("accuracy")

    @property
    def latency_ms(self) -> float | None:
        return self.metric("latency_ms")

    @property
    def latency_p95_ms(self) -> float | None:
        return self.metric("latency_p95_ms")

    @property
    def error_rate(self) -> float | None:
        return self.metric("error_rate")


class GuardrailResult(Schema):
    """One treatment against one guardrail.

    ``limit`` is the value the treatment must not cross: the threshold itself, or for a
    relative guardrail the control's value moved by the margin. ``state`` is ``pass`` when
    the whole interval keeps the bound, ``fail`` when it lies wholly beyond it, otherwise
    ``inconclusive`` (``no_data`` before there is any). ``violated`` is a ``fail`` with the
    minimum samples reached: it stops the experiment.
    """

    metric: str
    variant: str
    bound: str
    threshold: float
    relative: bool = False
    limit: float | None = None
    value: float | None
    control_value: float | None = None
    state: str = "no_data"
    violated: bool


class SegmentVariant(Schema):
    name: str
    units: int
    value: float | None


class SegmentComparison(Schema):
    """A treatment against the control within one segment, on the primary metric.

    ``adjusted_p_value`` is Benjamini-Hochberg across every segment and treatment.
    """

    variant: str
    relative_lift: float | None
    relative_ci: tuple[float | None, float | None]
    p_value: float | None
    adjusted_p_value: float | None
    significant: bool


class SegmentResult(Schema):
    value: str
    variants: list[SegmentVariant]
    comparisons: list[SegmentComparison]


class SegmentBreakdown(Schema):
    """The primary metric by a unit attribute (the largest segments; the rest as (other))."""

    attribute: str
    metric: str
    correction: str
    segments: list[SegmentResult]


class ShadowValue(Schema):
    value: float | None
    ci: tuple[float | None, float | None]


class ShadowReport(Schema):
    """A treatment's mirrored answers beside the served ones (same prediction ids).

    ``agreement_rate`` is over pairs where both answered; ``mean_absolute_difference`` over
    numeric answers (None for classes); latencies in ms, the difference is shadow minus
    served; accuracy over labels that are values (a ``correct`` flag judges the served
    answer only).
    """

    variant: str
    pairs: int
    answered: int
    agreement_rate: ShadowValue
    mean_absolute_difference: ShadowValue | None
    served_latency_ms: float | None
    shadow_latency_ms: float | None
    latency_difference_ms: ShadowValue
    served_error_rate: float | None
    shadow_error_rate: float | None
    labelled: int
    served_accuracy: float | None
    shadow_accuracy: float | None
    verdict: DecisionPublic | None = Field(
        default=None,
        description="the shadow check of this treatment: agreement, errors, latency and "
        "accuracy against the served model (see ablab.domain.shadow_verdict)",
    )


class BanditArm(Schema):
    """A variant's Thompson-sampling posterior ``Beta(alpha, beta)`` and current weight."""

    variant: str
    alpha: float
    beta: float
    weight: float


class ExperimentResults(Schema):
    experiment: ExperimentPublic
    primary_metric: str
    variants: list[VariantResults]
    comparisons: list[ComparisonPublic]
    srm: SrmPublic
    guardrails: list[GuardrailResult]
    is_significant: bool
    min_samples_reached: bool
    recommendation: DecisionPublic
    segments: SegmentBreakdown | None = None
    bandit: list[BanditArm] | None = Field(
        default=None, description="for a bandit experiment, each arm's posterior and weight"
    )
    shadow: list[ShadowReport] | None = Field(
        default=None, description="for a shadow experiment, each treatment's shadow report"
    )
    min_samples_rule: MinSamplesRule | None = Field(
        default=None, description="which count min_samples_reached reads, in words"
    )
    duration: DurationPublic | None = Field(
        default=None, description="days run, the maximum duration and the days left"
    )
    decisions: list[DecisionPublic] = Field(
        default_factory=list,
        description="each treatment's own decision; recommendation is the overall one",
    )

    @property
    def control(self) -> VariantResults:
        return next(v for v in self.variants if v.name == self.experiment.control.name)

    @property
    def treatment(self) -> VariantResults:
        """The treatment (the first one in an A/B/n experiment)."""
        first = self.experiment.treatments[0].name
        return next(v for v in self.variants if v.name == first)

    @property
    def primary_comparison(self) -> ComparisonPublic | None:
        """The first treatment against control on the primary metric."""
        first = self.experiment.treatments[0].name
        return next(
            (c for c in self.comparisons if c.variant == first and c.metric == self.primary_metric),
            None,
        )

    @property
    def p_value(self) -> float | None:
        """The fixed-horizon p-value of the primary comparison."""
        comparison = self.primary_comparison
        return comparison.p_value if comparison is not None else None
