"""Wire schemas of LLM configuration experiments (``/v1/llm/...``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from ablab.contract.base import RequestSchema, Schema
from ablab.contract.fields import (
    Concurrency,
    ConfigObject,
    Flag,
    Identifier,
    Label,
    Location,
    Secret,
    StepConfigs,
    TaskValue,
    Text,
    Trials,
)
from ablab.domain.limits import MAX_LIST_ITEMS, MAX_TASKS
from ablab.domain.llm import LlmStatus, Parameter, effective_config, overrides
from ablab.domain.llm_records import LlmExperiment, LlmRun, LlmTask
from ablab.domain.llm_results import LlmProgress as Progress
from ablab.domain.llm_results import LlmResults as Results
from ablab.domain.llm_specs import LlmExperimentSpec, LlmTaskSpec, LlmVariantSpec

__all__ = [
    "LlmBaselineSet",
    "LlmCompleteRequest",
    "LlmEvaluatorDelta",
    "LlmExperimentCreate",
    "LlmExperimentPublic",
    "LlmMcNemar",
    "LlmProgress",
    "LlmResults",
    "LlmRunPublic",
    "LlmRunRequest",
    "LlmTaskCreate",
    "LlmTaskOutcome",
    "LlmTaskPublic",
    "LlmTasksSelect",
    "LlmVariantCreate",
    "LlmVariantPublic",
    "LlmVariantResult",
]

Config = dict[str, dict[str, Any]]


class LlmTaskCreate(RequestSchema):
    name: Label
    # It goes to the application as JSON, which has no NaN or infinity.
    input: TaskValue
    expected_output: TaskValue = None
    evaluators: list[ConfigObject] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description='e.g. [{"kind": "exact_match"}, {"kind": "regex", ...}]',
    )

    def to_spec(self) -> LlmTaskSpec:
        return LlmTaskSpec(
            name=self.name,
            input=self.input,
            expected_output=self.expected_output,
            evaluators=tuple(self.evaluators),
        )


class LlmTaskPublic(Schema):
    id: str
    name: str
    input: Any
    expected_output: Any
    evaluators: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def from_domain(cls, task: LlmTask) -> LlmTaskPublic:
        return cls(
            id=task.id,
            name=task.name,
            input=task.input,
            expected_output=task.expected_output,
            evaluators=[dict(e) for e in task.evaluators],
            created_at=task.created_at,
        )


class LlmExperimentCreate(RequestSchema):
    name: Label
    description: Text = ""
    steps: list[Identifier] = Field(
        min_length=1,
        max_length=MAX_LIST_ITEMS,
        description="inference steps in scope, by external_id",
    )
    tasks: list[Identifier] = Field(
        default_factory=list, max_length=MAX_TASKS, description="task names or ids"
    )
    baseline: StepConfigs = Field(default_factory=dict)
    trials: Trials = Field(default=1, description="runs of each task per variant")
    concurrency: Concurrency = 8
    webhook_url: Location | None = None
    webhook_secret: Secret | None = None

    def to_spec(self) -> LlmExperimentSpec:
        return LlmExperimentSpec(
            name=self.name,
            steps=tuple(self.steps),
            description=self.description,
            tasks=tuple(self.tasks),
            baseline=self.baseline,
            trials=self.trials,
            concurrency=self.concurrency,
            webhook_url=self.webhook_url,
            webhook_secret=self.webhook_secret,
        )


class LlmTasksSelect(RequestSchema):
    tasks: list[Identifier] = Field(min_length=1, max_length=MAX_TASKS)


class LlmBaselineSet(RequestSchema):
    config: StepConfigs


class LlmVariantCreate(RequestSchema):
    name: Label
    step: Identifier
    parameter: Parameter
    value: TaskValue
    parent: Identifier | None = Field(
        default=None, description="a variant's name or id; none: baseline"
    )
    hypothesis: Text = ""

    def to_spec(self) -> LlmVariantSpec:
        return LlmVariantSpec(
            name=self.name,
            step=self.step,
            parameter=self.parameter,
            value=self.value,
            parent=self.parent,
            hypothesis=self.hypothesis,
        )


class LlmRunRequest(RequestSchema):
    variant: Identifier | None = Field(
        default=None, description="a variant's name or id; none: baseline"
    )


class LlmCompleteRequest(RequestSchema):
    """Completing the testing, and naming the configuration to ship."""

    winner: Identifier | None = Field(
        default=None,
        description="baseline, or a variant's name or id; a variant must be significantly "
        "better than the baseline (the Bonferroni-adjusted McNemar verdict) unless forced",
    )
    force: Flag = Field(
        default=False, description="name a variant that is not significantly better anyway"
    )
    reason: Text = Field(default="", description="why; required with force, kept in the audit")


class LlmVariantPublic(Schema):
    id: str
    name: str
    parent_id: str | None
    step: str
    parameter: Parameter
    value: Any
    hypothesis: str
    overrides: Config = Field(description="every override on its branch, by step")
    config: Config = Field(description="the effective configuration, by step")


class LlmProgress(Schema):
    running: str | None = Field(description="baseline, a variant's id, or none")
    done: int
    total: int


class LlmExperimentPublic(Schema):
    id: str
    name: str
    description: str
    status: LlmStatus
    steps: list[str]
    tasks: list[str] = Field(description="task ids")
    baseline: Config
    variants: list[LlmVariantPublic]
    trials: int
    concurrency: int
    webhook_url: str | None
    webhook_secret_set: bool
    progress: LlmProgress
    winner: str | None = Field(
        default=None, description="baseline or a variant's id, named at completion"
    )
    winner_forced: bool = Field(
        default=False, description="named without significant evidence, on purpose"
    )
    created_at: datetime
    updated_at: datetime

    def winner_name(self) -> str | None:
        """The winner's name (``baseline`` or the variant's), None when none was named."""
        found = next((v.name for v in self.variants if v.id == self.winner), None)
        return found or self.winner

    @classmethod
    def from_domain(
        cls, experiment: LlmExperiment, progress: Progress | LlmProgress
    ) -> LlmExperimentPublic:
        by_id = experiment.variants_by_id
        return cls(
            id=experiment.id,
            name=experiment.name,
            description=experiment.description,
            status=experiment.status,
            steps=list(experiment.steps),
            tasks=list(experiment.task_ids),
            baseline={s: dict(v) for s, v in experiment.baseline.items()},
            variants=[
                LlmVariantPublic(
                    id=v.id,
                    name=v.name,
                    parent_id=v.parent_id,
                    step=v.step,
                    parameter=v.parameter,
                    value=v.value,
                    hypothesis=v.hypothesis,
                    overrides=overrides(by_id, v.id),
                    config=effective_config(experiment.baseline, by_id, v.id),
                )
                for v in experiment.variants
            ],
            trials=experiment.trials,
            concurrency=experiment.concurrency,
            webhook_url=experiment.webhook_url,
            webhook_secret_set=experiment.webhook_secret is not None,
            progress=LlmProgress.model_validate(progress),
            winner=experiment.winner,
            winner_forced=experiment.winner_forced,
            created_at=experiment.created_at,
            updated_at=experiment.updated_at,
        )


class LlmMcNemar(Schema):
    """McNemar's test against the baseline over tasks (each task's majority outcome across
    its trials), as a score test, with Tango's score interval of the paired difference: the
    interval inverts the same test, so a p-value and the interval beside it always agree.

    Two such pairs are given. ``p_value`` and ``ci`` are this comparison's alone
    (confidence ``confidence``). ``adjusted_p_value`` and ``adjusted_ci`` are adjusted with
    Bonferroni over the results' ``comparisons`` (p times their number; confidence
    ``adjusted_confidence``, the intervals holding together); ``significant`` is their
    verdict, the one ablab shows and acts on: true exactly when ``adjusted_p_value`` is
    below alpha and ``adjusted_ci`` leaves out 0.
    """

    method: str = Field(
        default="mcnemar_score_tango", description="McNemar's score test, Tango's interval"
    )
    pairs: int
    only_baseline_passed: int
    only_variant_passed: int
    difference: float | None = Field(description="variant minus baseline, in task pass rate")
    statistic: float | None = Field(default=None, description="(c - b) / sqrt(b + c)")
    ci: tuple[float | None, float | None]
    p_value: float | None
    confidence: float | None = None
    adjusted_p_value: float | None
    adjusted_ci: tuple[float | None, float | None] = (None, None)
    adjusted_confidence: float | None = None
    significant: bool


class LlmEvaluatorDelta(Schema):
    pass_rate: float | None
    baseline_pass_rate: float | None
    delta: float | None


class LlmTaskOutcome(Schema):
    task: str
    name: str
    passes: int
    trials: int
    errors: int
    passed: bool = Field(description="passed in more than half of its trials")
    flaky: bool = Field(description="its trials disagree")
    reason: str | None = Field(
        default=None,
        description="why its first trial that did not pass failed: the error of a run "
        "without a usable answer, or the failing evaluators' verdicts; none when all passed",
    )


class LlmVariantResult(Schema):
    variant: str = Field(description="baseline or the variant's id")
    name: str
    parent_id: str | None
    runs: int
    pending: int
    pass_rate: float | None = Field(description="passed runs over all runs, 0..1")
    pass_rate_vs_baseline: float | None = Field(description="absolute, in pass-rate points")
    relative_vs_baseline: float | None
    tasks_total: int
    tasks_passed: int
    tasks_failed: int
    errors: int
    flaky_tasks: int
    completed_at: datetime | None
    mcnemar: LlmMcNemar | None
    evaluators: dict[str, LlmEvaluatorDelta]
    tasks: list[LlmTaskOutcome]
    latency_mean_ms: float | None = Field(
        default=None,
        description="mean latency of the answered runs: the application's reported "
        "latency_ms where it gave one, ablab's round trip otherwise",
    )
    latency_p50_ms: float | None = Field(default=None, description="median of the same")
    latency_source: str | None = Field(
        default=None, description="reported, measured or mixed: whose latencies these are"
    )
    input_tokens: int | None = Field(
        default=None, description="sum over the runs that reported it; none when none did"
    )
    output_tokens: int | None = Field(default=None, description="likewise")
    total_tokens: int | None = Field(default=None, description="likewise")
    token_runs: int = Field(default=0, description="runs that reported tokens")
    cost_usd: float | None = Field(
        default=None, description="sum of the reported cost_usd; none when none was reported"
    )
    cost_runs: int = Field(default=0, description="runs that reported a cost")


class LlmResults(Schema):
    experiment: LlmExperimentPublic
    correction: str = Field(
        description="bonferroni: over the variants compared with the baseline, for both "
        "the McNemar p-values and their intervals"
    )
    comparisons: int = Field(
        default=0, description="variants with a McNemar comparison (the Bonferroni family)"
    )
    alpha: float
    variants: list[LlmVariantResult]

    @classmethod
    def from_domain(cls, results: Results) -> LlmResults:
        """The results as the wire shows them: the experiment with its progress."""
        return cls(
            experiment=LlmExperimentPublic.from_domain(results.experiment, results.progress),
            correction=results.correction,
            comparisons=results.comparisons,
            alpha=results.alpha,
            variants=[LlmVariantResult.model_validate(v) for v in results.variants],
        )


class LlmRunPublic(Schema):
    """One task run of one configuration: its output, its verdicts and what it spent."""

    test_id: str
    task: str = Field(description="the task's id")
    task_name: str
    variant: str = Field(description="baseline or the variant's id")
    variant_name: str
    trial: int
    state: str = Field(description="pending, passed, failed (judged) or error (no answer)")
    output: Any
    error: str | None
    verdicts: list[dict[str, Any]]
    latency_ms: float | None = Field(description="ablab's measure, sending to answer")
    reported_latency_ms: float | None = Field(description="the application's own, if reported")
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None
    completed_at: datetime | None

    @classmethod
    def from_domain(cls, run: LlmRun, task_name: str, variant_name: str) -> LlmRunPublic:
        return cls(
            test_id=run.test_id,
            task=run.task_id,
            task_name=task_name,
            variant=run.variant_id,
            variant_name=variant_name,
            trial=run.trial,
            state=run.state.value,
            output=run.output,
            error=run.error,
            verdicts=[dict(v) for v in run.verdicts],
            latency_ms=run.latency_ms,
            reported_latency_ms=run.reported_latency_ms,
            input_tokens=run.input_tokens,
            output_tokens=run.output_tokens,
            total_tokens=run.total_tokens,
            cost_usd=run.cost_usd,
            completed_at=run.completed_at,
        )
