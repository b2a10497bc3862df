"""What a person asks for: the specifications the use cases take.

The wire's request schemas (``contract``: ``ExperimentCreate``, ``ExperimentUpdate``,
``ModelVersionCreate``, ``GroupCreate``, ``MetricCreate``) check the shape of a request
and turn it into one of these with ``to_spec()``; the services judge what it means (a name
already taken, weights that do not add up) and never see the wire. Field names and
defaults are the schemas', so a spec reads like the request it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ablab.domain.experiments import AnalysisMethod
from ablab.domain.metrics import Aggregation, MetricKind

__all__ = [
    "ExperimentChanges",
    "ExperimentSpec",
    "GroupSpec",
    "MetricSpec",
    "ModelVersionSpec",
    "VariantSpec",
]


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """A variant given explicitly; ``weight`` is a percentage of the experiment's traffic."""

    name: str
    model_version: str | None = None
    weight: float = 0.0
    config: Mapping[str, Any] = field(default_factory=dict)
    is_control: bool = False


@dataclass(frozen=True, slots=True)
class ExperimentSpec:
    """A new experiment, in seed 000's short form or as a list of ``variants``.

    The short form names ``model_id``, ``control_version`` and ``treatment_version`` (or
    several ``treatment_versions``) and ``traffic_split``, the percentage the treatments
    share equally. With ``draft`` the experiment waits for a launch.
    """

    name: str
    model_id: str | None = None
    control_version: str | None = None
    treatment_version: str | None = None
    treatment_versions: Sequence[str] = ()
    traffic_split: float = 50.0
    variants: Sequence[VariantSpec] | None = None
    hypothesis: str = ""
    group: str | None = None
    coverage: float = 100.0
    primary_metric: str = "accuracy"
    secondary_metrics: Sequence[str] = ()
    guardrails: Sequence[str] = ()
    min_samples: int = 100
    max_duration_days: int | None = None
    alpha: float = 0.05
    power: float = 0.8
    mde: float | None = None
    analysis_method: AnalysisMethod = AnalysisMethod.SEQUENTIAL
    sequential_tuning_units: int | None = None
    cuped: bool = True
    cuped_lookback_days: int = 14
    cuped_covariate: str | None = None
    bandit: bool = False
    shadow: bool = False
    auto_promote: bool = False
    draft: bool = False
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ExperimentChanges:
    """Changes to a live experiment: only the fields given (not None) change.

    ``expected_version`` makes the write a conflict if someone changed the experiment since
    it was read.
    """

    traffic_split: float | None = None
    weights: Mapping[str, float] | None = None
    hypothesis: str | None = None
    min_samples: int | None = None
    max_duration_days: int | None = None
    guardrails: Sequence[str] | None = None
    auto_promote: bool | None = None
    primary_metric: str | None = None
    # A source's name; "" returns the experiment to ablab's own event tables.
    source: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class ModelVersionSpec:
    """``model_id``/``version`` served by an ``endpoint`` or loaded from an ``artifact``."""

    model_id: str
    version: str
    endpoint: str | None = None
    artifact: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A device group: a ``rule`` on unit attributes or a list of ``members``, not both."""

    name: str
    rule: Mapping[str, Any] | None = None
    members: Sequence[str] | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A metric computed from ``metric`` events named ``name`` (see ``CustomMetric``)."""

    name: str
    aggregation: Aggregation = Aggregation.SUM
    kind: MetricKind = MetricKind.CONTINUOUS
    higher_is_better: bool = True
    description: str = ""
