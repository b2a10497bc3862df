"""An experiment's whole results: what ``GET /experiments/{ref}/results`` shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ablab.domain.decisions import Recommendation
from ablab.domain.experiments import Experiment
from ablab.domain.results.checks import GuardrailResult, SrmCheck
from ablab.domain.results.comparisons import Comparison
from ablab.domain.results.segments import SegmentBreakdown
from ablab.domain.results.shadow import ShadowReport
from ablab.domain.results.variants import BanditArm, VariantResults
from ablab.domain.results.verdicts import Duration, MinSamplesRule

__all__ = ["ExperimentResults"]


@dataclass(frozen=True, slots=True)
class ExperimentResults:
    """The experiment as analysed, each variant's figures, each comparison, the checks and
    the recommendation (the overall one; ``decisions`` holds each treatment's own).

    ``bandit`` is set for a bandit experiment, ``shadow`` for a shadow one, ``segments``
    when a breakdown was asked for.
    """

    experiment: Experiment
    primary_metric: str
    variants: Sequence[VariantResults]
    comparisons: Sequence[Comparison]
    srm: SrmCheck
    guardrails: Sequence[GuardrailResult]
    is_significant: bool
    min_samples_reached: bool
    recommendation: Recommendation
    segments: SegmentBreakdown | None = None
    bandit: Sequence[BanditArm] | None = None
    shadow: Sequence[ShadowReport] | None = None
    min_samples_rule: MinSamplesRule | None = None
    duration: Duration | None = None
    decisions: Sequence[Recommendation] = ()

    @property
    def control(self) -> VariantResults:
        return self.variant(self.experiment.control.name)

    @property
    def treatment(self) -> VariantResults:
        """The treatment (the first one in an A/B/n experiment)."""
        return self.variant(self.experiment.treatments[0].name)

    @property
    def p_value(self) -> float | None:
        """The fixed-horizon p-value of the primary comparison."""
        comparison = self.primary_comparison
        return comparison.p_value if comparison is not None else None

    @property
    def primary_comparison(self) -> Comparison | None:
        """The first treatment against control on the primary metric."""
        first = self.experiment.treatments[0].name
        return next(
            (c for c in self.comparisons if c.variant == first and c.metric == self.primary_metric),
            None,
        )

    def variant(self, name: str) -> VariantResults:
        """The figures of variant ``name`` (every variant of the experiment has a row)."""
        return next(v for v in self.variants if v.name == name)
