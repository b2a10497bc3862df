"""Wire schemas of experiments: ExperimentCreate, ExperimentUpdate, ExperimentPublic."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import (
    ConfigObject,
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
from ablab.domain.experiments import AnalysisMethod, Experiment, Variant
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.limits import MAX_LIST_ITEMS, MAX_VARIANTS
from ablab.domain.snapshots import experiment_record
from ablab.domain.specs import ExperimentChanges, ExperimentSpec, VariantSpec

__all__ = [
    "ExperimentCreate",
    "ExperimentPublic",
    "ExperimentUpdate",
    "ExperimentWithWarnings",
    "GuardrailPublic",
    "VariantCreate",
    "VariantPublic",
]


class VariantCreate(RequestSchema):
    """A variant given explicitly; ``weight`` is a percentage of the experiment's traffic."""

    name: Label
    model_version: Identifier | None = None
    weight: Weight = 0.0
    config: ConfigObject = Field(default_factory=dict)
    is_control: Flag = False

    def to_spec(self) -> VariantSpec:
        return VariantSpec(
            name=self.name,
            model_version=self.model_version,
            weight=self.weight,
            config=dict(self.config),
            is_control=self.is_control,
        )


class ExperimentCreate(RequestSchema):
    """Create an experiment.

    The short form is seed 000's: ``model_id``, ``control_version``, ``treatment_version`` (or
    several ``treatment_versions`` for A/B/n) and ``traffic_split``, the percentage of traffic
    the treatments share equally. The long form lists ``variants`` with their weights. With
    ``draft`` the experiment waits for a launch; otherwise it starts running at once.
    """

    name: Label
    model_id: Identifier | None = None
    control_version: Identifier | None = None
    treatment_version: Identifier | None = None
    treatment_versions: list[Identifier] = Field(default_factory=list, max_length=MAX_VARIANTS - 1)
    traffic_split: Percent = 50.0
    variants: list[VariantCreate] | None = Field(default=None, max_length=MAX_VARIANTS)
    hypothesis: Text = ""
    group: Identifier | None = None
    coverage: Coverage = 100.0
    primary_metric: Identifier = "accuracy"
    secondary_metrics: list[Identifier] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    guardrails: list[Identifier] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description='bounds such as "error_rate<=0.01"',
    )
    min_samples: Count = 100
    max_duration_days: DurationDays | None = Field(
        default=None,
        description="days after launch when an inconclusive test stops for futility and "
        "keeps the control; before it, the results estimate the days left",
    )
    alpha: Probability = 0.05
    power: Probability = 0.8
    mde: Mde | None = None
    analysis_method: AnalysisMethod = AnalysisMethod.SEQUENTIAL
    sequential_tuning_units: Count | None = Field(
        default=None,
        description="units of control and treatment together at which the sequential "
        "test's confidence sequence is tightest; fixes its mixing variance before the data "
        "(default 5000, gbstats' default; give the planned sample size when there is one)",
    )
    cuped: Flag = True
    cuped_lookback_days: LookbackDays = Field(
        default=14, description="days before launch whose data adjusts each metric (CUPED)"
    )
    cuped_covariate: Identifier | None = Field(
        default=None,
        description="a metric event name whose per-unit mean is the CUPED covariate, "
        "instead of the same metric before launch",
    )
    bandit: Flag = False
    shadow: Flag = False
    auto_promote: Flag = False
    draft: Flag = False
    source: Identifier | None = Field(
        default=None,
        description="the analysis source (POST /v1/sources) the events are read from; "
        "unset: ablab's own event tables",
    )

    def to_spec(self) -> ExperimentSpec:
        """The request as the service takes it (each field as given, lists as tuples)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return ExperimentSpec(
            **{
                **fields,
                "treatment_versions": tuple(self.treatment_versions),
                "secondary_metrics": tuple(self.secondary_metrics),
                "guardrails": tuple(self.guardrails),
                "variants": None
                if self.variants is None
                else tuple(v.to_spec() for v in self.variants),
            }
        )


class ExperimentUpdate(RequestSchema):
    """Change a live experiment. Only the fields given change.

    ``traffic_split`` or ``weights`` re-split traffic for units not yet assigned; units already
    assigned keep their variant. ``primary_metric`` is checked as at creation (a built-in or
    a defined metric); see ``domain.experiments.with_primary_metric`` for why it may change
    while the experiment runs. ``expected_version`` makes the write fail with a conflict if
    someone else changed the experiment since it was read.
    """

    traffic_split: Percent | None = None
    weights: dict[Label, Weight] | None = Field(default=None, max_length=MAX_VARIANTS)
    hypothesis: Text | None = None
    min_samples: Count | None = None
    max_duration_days: DurationDays | None = Field(
        default=None,
        description="days after launch when an inconclusive test stops for futility",
    )
    guardrails: list[Identifier] | None = Field(default=None, max_length=MAX_LIST_ITEMS)
    auto_promote: Flag | None = None
    primary_metric: Identifier | None = Field(
        default=None,
        description="the metric the experiment is judged on; while it runs, the next "
        "results read every event with it (a secondary metric made primary leaves the "
        "secondary list); refused once the experiment has ended",
    )
    source: Identifier | Literal[""] | None = Field(
        default=None,
        description='the analysis source the events are read from; "" for ablab\'s own tables',
    )
    expected_version: RecordVersion | None = None

    def to_spec(self) -> ExperimentChanges:
        """The changes as the service takes them (the fields not given stay None)."""
        return ExperimentChanges(
            traffic_split=self.traffic_split,
            weights=dict(self.weights) if self.weights is not None else None,
            hypothesis=self.hypothesis,
            min_samples=self.min_samples,
            max_duration_days=self.max_duration_days,
            guardrails=tuple(self.guardrails) if self.guardrails is not None else None,
            auto_promote=self.auto_promote,
            primary_metric=self.primary_metric,
            source=self.source,
            expected_version=self.expected_version,
        )


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
    sequential_tuning_units: int = Field(
        description="tuning sample size of the sequential tests (both arms together)"
    )
    cuped: bool
    cuped_lookback_days: int
    cuped_covariate: str | None
    bandit: bool
    shadow: bool
    auto_promote: bool
    source: str | None = Field(
        default=None, description="the analysis source; null: ablab's own event tables"
    )
    winner: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @model_validator(mode="before")
    @classmethod
    def _read_domain(cls, data: Any) -> Any:
        # An experiment inside a result value (``ExperimentResults.model_validate(value)``)
        # is read the way from_domain reads it: some fields are renamed or computed.
        return cls.from_domain(data) if isinstance(data, Experiment) else data

    @classmethod
    def from_domain(cls, experiment: Experiment) -> ExperimentPublic:
        return cls.model_validate(experiment_record(experiment))

    @property
    def control(self) -> VariantPublic:
        return next(v for v in self.variants if v.is_control)

    @property
    def treatments(self) -> list[VariantPublic]:
        return [v for v in self.variants if not v.is_control]


class ExperimentWithWarnings(ExperimentPublic):
    """An experiment as an action left it (create, launch, resume, promote), with what the
    person who acted should know: e.g. that it draws its units only from an active rollout's
    share. A separate schema, so the audit log and every read keep ``ExperimentPublic``."""

    warnings: list[str] = Field(
        default_factory=list,
        description="advice on the action's consequences, one sentence each; never an error",
    )

    @classmethod
    def warned(cls, experiment: Experiment, warnings: list[str]) -> ExperimentWithWarnings:
        return cls.model_validate({**experiment_record(experiment), "warnings": warnings})
