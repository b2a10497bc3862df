"""Wire schemas of experiments: ExperimentCreate, ExperimentUpdate, ExperimentPublic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ablab.contract.base import Schema
from ablab.domain.experiments import AnalysisMethod, Experiment, Variant
from ablab.domain.lifecycle import ExperimentStatus

__all__ = [
    "ExperimentCreate",
    "ExperimentPublic",
    "ExperimentUpdate",
    "GuardrailPublic",
    "VariantCreate",
    "VariantPublic",
]


class VariantCreate(Schema):
    """A variant given explicitly; ``weight`` is a percentage of the experiment's traffic."""

    name: str
    model_version: str | None = None
    weight: float = Field(default=0.0, ge=0, le=100)
    config: dict[str, Any] = Field(default_factory=dict)
    is_control: bool = False


class ExperimentCreate(Schema):
    """Create an experiment.

    The short form is seed 000's: ``model_id``, ``control_version``, ``treatment_version`` (or
    several ``treatment_versions`` for A/B/n) and ``traffic_split``, the percentage of traffic
    the treatments share equally. The long form lists ``variants`` with their weights. With
    ``draft`` the experiment waits for a launch; otherwise it starts running at once.
    """

    name: str
    model_id: str | None = None
    control_version: str | None = None
    treatment_version: str | None = None
    treatment_versions: list[str] = Field(default_factory=list)
    traffic_split: float = 50.0
    variants: list[VariantCreate] | None = None
    hypothesis: str = ""
    group: str | None = None
    coverage: float = 100.0
    primary_metric: str = "accuracy"
    secondary_metrics: list[str] = Field(default_factory=list)
    guardrails: list[str] = Field(
        default_factory=list, description='bounds such as "error_rate<=0.01"'
    )
    min_samples: int = 100
    max_duration_days: int | None = None
    alpha: float = 0.05
    power: float = 0.8
    mde: float | None = None
    analysis_method: AnalysisMethod = AnalysisMethod.SEQUENTIAL
    cuped: bool = True
    cuped_lookback_days: int = Field(
        default=14, description="days before launch whose data adjusts each metric (CUPED)"
    )
    cuped_covariate: str | None = Field(
        default=None,
        description="a metric event name whose per-unit mean is the CUPED covariate, "
        "instead of the same metric before launch",
    )
    bandit: bool = False
    shadow: bool = False
    auto_promote: bool = False
    draft: bool = False


class ExperimentUpdate(Schema):
    """Change a live experiment. Only the fields given change.

    ``traffic_split`` or ``weights`` re-split traffic for units not yet assigned; units already
    assigned keep their variant. ``expected_version`` makes the write fail with a conflict if
    someone else changed the experiment since it was read.
    """

    traffic_split: float | None = None
    weights: dict[str, float] | None = None
    hypothesis: str | None = None
    min_samples: int | None = None
    guardrails: list[str] | None = None
    auto_promote: bool | None = None
    expected_version: int | None = None


class VariantPublic(Schema):
    name: str
    model_version: str | None
    weight: float
    is_control: bool
    config: dict[str, Any]

    @classmethod
    def from_domain(cls, variant: Variant) -> VariantPublic:
        return cls.model_validate(variant)


class GuardrailPublic(Schema):
    """``threshold`` is a fraction of the control's value when ``relative`` (``+0.1``: +10%)."""

    metric: str
    bound: str
    threshold: float
    relative: bool = False
    spec: str = Field(default="", description='as written, e.g. "latency_ms<=+10%"')


class ExperimentPublic(Schema):
    id: str
    name: str
    status: ExperimentStatus
    model_id: str | None
    hypothesis: str
    variants: list[VariantPublic]
    traffic_split: float
    coverage: float
    group: str | None
    primary_metric: str
    secondary_metrics: list[str]
    guardrails: list[GuardrailPublic]
    min_samples: int
    max_duration_days: int | None
    alpha: float
    power: float
    mde: float | None
    analysis_method: AnalysisMethod
    cuped: bool
    cuped_lookback_days: int
    cuped_covariate: str | None
    bandit: bool
    shadow: bool
    auto_promote: bool
    winner: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_domain(cls, experiment: Experiment) -> ExperimentPublic:
        return cls(
            id=experiment.id,
            name=experiment.name,
            status=experiment.status,
            model_id=experiment.model,
            hypothesis=experiment.hypothesis,
            variants=[VariantPublic.from_domain(v) for v in experiment.variants],
            traffic_split=experiment.traffic_split,
            coverage=experiment.coverage,
            group=experiment.group,
            primary_metric=experiment.primary_metric,
            secondary_metrics=list(experiment.secondary_metrics),
            guardrails=[
                GuardrailPublic(
                    metric=g.metric,
                    bound=g.bound.value,
                    threshold=g.threshold,
                    relative=g.relative,
                    spec=str(g),
                )
                for g in experiment.guardrails
            ],
            min_samples=experiment.min_samples,
            max_duration_days=experiment.max_duration_days,
            alpha=experiment.alpha,
            power=experiment.power,
            mde=experiment.mde,
            analysis_method=experiment.analysis_method,
            cuped=experiment.cuped,
            cuped_lookback_days=experiment.cuped_lookback_days,
            cuped_covariate=experiment.cuped_covariate,
            bandit=experiment.bandit,
            shadow=experiment.shadow,
            auto_promote=experiment.auto_promote,
            winner=experiment.winner,
            version=experiment.version,
            created_at=experiment.created_at,
            updated_at=experiment.updated_at,
            started_at=experiment.started_at,
            ended_at=experiment.ended_at,
        )

    @property
    def control(self) -> VariantPublic:
        return next(v for v in self.variants if v.is_control)

    @property
    def treatments(self) -> list[VariantPublic]:
        return [v for v in self.variants if not v.is_control]
