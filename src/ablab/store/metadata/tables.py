"""The metadata tables (SQLAlchemy 2 declarative). Alembic migrations mirror these.

Over 400 lines on purpose: the whole schema in one file, as Base.metadata and migrations see it.

JSON columns hold the parts of an experiment that change together with it (variants,
guardrails): one row, one version number, one optimistic check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ablab.domain.rollouts import ACTIVE as ROLLOUT_ACTIVE

__all__ = [
    "ONE_ACTIVE_ROLLOUT",
    "AllocationPeriodRow",
    "ApiKeyRow",
    "AssignmentRow",
    "AuditRow",
    "Base",
    "ExperimentRow",
    "GroupRow",
    "MetricRow",
    "ModelRow",
    "ModelVersionRow",
    "ProjectRow",
    "RolloutRow",
    "SequentialStateRow",
    "UtcDateTime",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite itself keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UtcDateTime()

ONE_ACTIVE_ROLLOUT = "uq_rollouts_one_active_per_model"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: Timestamp,
    }


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"))
    version: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(String(16))
    backend_uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class GroupRow(Base):
    __tablename__ = "device_groups"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    condition: Mapped[dict[str, Any] | None]
    members: Mapped[list[Any]]
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ExperimentRow(Base):
    __tablename__ = "experiments"
    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        Index("ix_experiments_project_status", "project_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    variants: Mapped[list[Any]]
    coverage: Mapped[float]
    group: Mapped[str | None] = mapped_column("group_name", String(128))
    primary_metric: Mapped[str] = mapped_column(String(64))
    secondary_metrics: Mapped[list[Any]]
    guardrails: Mapped[list[Any]]
    min_samples: Mapped[int]
    max_duration_days: Mapped[int | None]
    alpha: Mapped[float]
    power: Mapped[float]
    mde: Mapped[float | None]
    analysis_method: Mapped[str] = mapped_column(String(16))
    cuped: Mapped[bool]
    cuped_lookback_days: Mapped[int] = mapped_column(Integer, server_default=text("14"))
    cuped_covariate: Mapped[str | None] = mapped_column(String(64))
    bandit: Mapped[bool]
    shadow: Mapped[bool]
    auto_promote: Mapped[bool]
    winner: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    sequential_tuning_units: Mapped[int | None]
    # The analysis source the experiment's events are read from; None: ablab's own tables.
    source: Mapped[str | None] = mapped_column(String(128))


class MetricRow(Base):
    """A custom metric's definition; its values arrive as ``metric`` events of that name."""

    __tablename__ = "metric_definitions"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(64))
    aggregation: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    higher_is_better: Mapped[bool]
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class SourceRow(Base):
    """An analysis source (``domain.sources``): its tables as JSON, one object per event
    type, since they change together with the source."""

    __tablename__ = "analysis_sources"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    engine: Mapped[str] = mapped_column(String(16))
    tables: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    refresh_minutes: Mapped[int | None]


class ApiKeyRow(Base):
    """An API key: only the SHA-256 of its secret is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_project", "project_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class UserRow(Base):
    """A console user: only the argon2 hash of the password is kept."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    disabled_at: Mapped[datetime | None]


class ConsoleSessionRow(Base):
    """A signed-in browser: the SHA-256 of its cookie's token, its CSRF token, its expiry."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    actor: Mapped[str] = mapped_column(String(160))
    role: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    user_id: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str | None] = mapped_column(String(32))


class LlmTaskRow(Base):
    __tablename__ = "llm_tasks"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    input: Mapped[Any] = mapped_column(JSON)
    expected_output: Mapped[Any] = mapped_column(JSON, nullable=True)
    evaluators: Mapped[list[Any]]
    created_at: Mapped[datetime]


class LlmExperimentRow(Base):
    """An LLM configuration experiment; its variant tree is a JSON list (a few dozen nodes)."""

    __tablename__ = "llm_experiments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[list[Any]]
    task_ids: Mapped[list[Any]]
    baseline: Mapped[dict[str, Any]]
    variants: Mapped[list[Any]]
    trials: Mapped[int]
    concurrency: Mapped[int]
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(String(256))
    running: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision: Mapped[int]
    # Who runs ``running`` and until when the database trusts it to (migration 0008).
    run_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    # The configuration named at completion, and whether without evidence (migration 0011).
    winner: Mapped[str | None] = mapped_column(String(32))
    winner_forced: Mapped[bool] = mapped_column(default=False, server_default=false())


class LlmRunRow(Base):
    __tablename__ = "llm_runs"
    __table_args__ = (Index("ix_llm_runs_experiment", "experiment_id", "variant_id"),)

    test_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    experiment_id: Mapped[str] = mapped_column(ForeignKey("llm_experiments.id", ondelete="CASCADE"))
    variant_id: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[str] = mapped_column(String(32))
    trial: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    output: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    verdicts: Mapped[list[Any]]
    latency_ms: Mapped[float | None]
    attempts: Mapped[int]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # What the application reported the run spent, NULL when it did not (migration 0014).
    reported_latency_ms: Mapped[float | None]
    input_tokens: Mapped[int | None]
    output_tokens: Mapped[int | None]
    total_tokens: Mapped[int | None]
    cost_usd: Mapped[float | None]


# A model has at most one rollout in progress: the database holds it (a partial unique
# index), so two promotions racing on two servers cannot both start one.
_ROLLOUT_IN_PROGRESS = text(
    "status IN (" + ", ".join(f"'{status.value}'" for status in ROLLOUT_ACTIVE) + ")"
)


class RolloutRow(Base):
    __tablename__ = "rollouts"
    __table_args__ = (
        Index("ix_rollouts_project_model", "project_id", "model"),
        Index(
            ONE_ACTIVE_ROLLOUT,
            "project_id",
            "model",
            unique=True,
            sqlite_where=_ROLLOUT_IN_PROGRESS,
            postgresql_where=_ROLLOUT_IN_PROGRESS,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    model: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(128))
    previous_version: Mapped[str] = mapped_column(String(128))
    experiment_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    steps: Mapped[list[Any]]
    step: Mapped[int]
    step_started_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    guardrails: Mapped[list[Any]]
    min_step_minutes: Mapped[float]
    min_step_units: Mapped[int]
    reason: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int]


class AssignmentRow(Base):
    __tablename__ = "assignments"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    variant: Mapped[str] = mapped_column(String(128))
    assigned_at: Mapped[datetime]


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_project_at", "project_id", "at"),
        Index("ix_audit_object", "object_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class AllocationPeriodRow(Base):
    """The weights and coverage of an experiment from ``started_at`` until the next row's.

    Written in the transaction of the change that started it (``domain.allocations``).
    """

    __tablename__ = "allocation_periods"
    __table_args__ = (Index("ix_allocation_periods_experiment", "experiment_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    weights: Mapped[dict[str, Any]]
    coverage: Mapped[float]
    reason: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))


class SequentialStateRow(Base):
    """The running always-valid test of one (experiment, metric, treatment) between looks.

    A row with ``looks == 0`` holds no state yet: it is created empty so that two servers
    taking the first look at once queue on the same row lock (``domain.sequential``).
    """

    __tablename__ = "sequential_states"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    # A metric's name, or a guardrail's test such as ``latency_ms<=+10%:harm``.
    metric: Mapped[str] = mapped_column(String(128), primary_key=True)
    variant: Mapped[str] = mapped_column(String(128), primary_key=True)
    tuning_units: Mapped[int | None]
    level: Mapped[float | None]
    alternative: Mapped[str | None] = mapped_column(String(16))
    null_difference: Mapped[float | None]
    looks: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    always_valid_p_value: Mapped[float | None]
    lower: Mapped[float | None]
    upper: Mapped[float | None]
    mixing_variance: Mapped[float | None]
    updated_at: Mapped[datetime | None]
