"""Settings read from ``ABLAB_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]

# DuckDB's memory_limit: a decimal number, then a unit of its list (case-insensitive), or %.
_MEMORY_SIZE = re.compile(r"\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B|%)\s*", re.IGNORECASE)


class Settings(BaseSettings):
    """Where ablab keeps its data and whom it talks to.

    Attributes:
        home: Folder of the embedded stores (``ABLAB_HOME``, default ``./.ablab``).
        database_url: Metadata database (``ABLAB_DATABASE_URL``); SQLite under ``home`` if unset.
        events_url: Event store (``ABLAB_EVENTS_URL``, ``postgresql://...``); DuckDB under
            ``home`` if unset.
        alert_webhook: URL told of automatic stops and promotions (``ABLAB_ALERT_WEBHOOK``).
        project: The project the embedded store works in (``ABLAB_PROJECT``).
        url: An ablab server; when set, the SDK and CLI talk HTTP (``ABLAB_URL``).
        api_key: The bearer key for ``url`` (``ABLAB_API_KEY``).
        admin_key: The server's first admin key on a fresh store (``ABLAB_ADMIN_KEY``);
            without it one is generated and printed once.
        max_body_bytes: Largest request body the server reads (413 beyond).
        max_batch_events: Most events one ``POST /v1/events`` may carry (413 beyond).
        monitor_interval: Seconds between the background monitor's rounds (0: off).
        key_cache_seconds: How long the server trusts a checked key before checking again.
        model_timeout: Seconds a model backend may take before the gateway gives up on it.
        shadow_sample: Share of a shadow experiment's requests mirrored to its treatments.
        console_session_hours: How long a console sign-in lasts.
        console_sign_in_attempts: Failed sign-ins a user name may have in 15 minutes before
            the console refuses it until the oldest is 15 minutes old (an address: 4 times).
        llm_python_evaluators: Whether the server runs ``python`` evaluators of LLM tasks
            (they import and call any function with the server's rights; off by default).
        gc_freeze: Move what the server made at start-up out of the garbage collector's way
            (``gc.freeze``); the tests, which start many servers in one process, turn it off.
        metrics_access: Who may read ``/metrics`` (``ABLAB_METRICS_ACCESS``): ``key`` (the
            default: a bearer key with the ``read`` scope, as Prometheus's ``authorization``
            sends it; the figures describe every project's traffic), ``public``, or ``off``.
        docs_access: Who may read ``/openapi.json``, ``/docs`` and ``/redoc``
            (``ABLAB_DOCS_ACCESS``): ``public`` (the default: they describe the API, which is
            published with ablab, and hold no data), ``key`` (a ``read`` key, or a console
            sign-in for the pages), or ``off``.
        artifact_folders: Folders whose joblib, pickle and skops files a server may load as
            models (``ABLAB_ARTIFACT_FOLDERS``, comma-separated; none by default). Paths are
            resolved (links, ``..``) before the check. The local store loads from anywhere.
        artifact_modules: Module prefixes whose ``module:attribute`` callables a server may
            load (``ABLAB_ARTIFACT_MODULES``, comma-separated: ``acme.models`` allows
            ``acme.models.triage:predict``; none by default).
        skops_trusted_types: Types a skops file may hold beyond scikit-learn's estimators and
            the numpy/scipy types skops trusts (``ABLAB_SKOPS_TRUSTED_TYPES``,
            comma-separated, e.g. ``sklearn.tree._tree.Tree`` for tree ensembles you made).
        mlflow_tracking_uri: MLflow's tracking store (``ABLAB_MLFLOW_TRACKING_URI``); set, a
            server loads ``models:/...`` and ``runs:/...`` artifacts from it (needs
            ``pip install 'ablab[mlflow]'``). The local store falls back to MLflow's own
            default (``MLFLOW_TRACKING_URI``).
        mlflow_registry_uri: MLflow's model registry when it is not the tracking store
            (``ABLAB_MLFLOW_REGISTRY_URI``).
        outbound_allow: Networks (``10.0.0.0/8``, ``::1``) and host names
            (``models.internal``, ``*.models.internal``) a server may send requests to:
            model endpoints, LLM webhooks, the alert webhook (``ABLAB_OUTBOUND_ALLOW``,
            comma-separated). Empty (the default): any address not denied.
        outbound_deny: Networks and host names a server never calls
            (``ABLAB_OUTBOUND_DENY``, comma-separated), beyond those always denied:
            link-local (``169.254.0.0/16``, ``fe80::/10``), cloud metadata
            (``fd00:ec2::254``, ...), unspecified, multicast and broadcast addresses.
            Deny wins over allow; loopback is allowed unless denied here.
        llm_run_lease_seconds: How long a server's hold on an LLM experiment run it executes
            lasts without renewal (``ABLAB_LLM_RUN_LEASE_SECONDS``, default 30; renewed every
            sixth of it). Another server on the same database ends the run once the lease
            has expired (its owner died); keep it above the clocks' disagreement between
            machines.
        events_pool_size: Most connections the PostgreSQL event store holds at once
            (``ABLAB_EVENTS_POOL_SIZE``, default 10): the writer and the concurrent readers
            of one server process; each worker of ``ablab serve --workers N`` has its own
            pool, and PostgreSQL's own limit is 100 connections by default.
        duckdb_memory_limit: What DuckDB's buffer manager may hold before its joins,
            aggregations and sorts spill to disk beside the event store
            (``ABLAB_DUCKDB_MEMORY_LIMIT``, default ``4GB``): a size in KB, MB, GB, TB (powers
            of 1000) or KiB, MiB, GiB, TiB (of 1024), or a share of the machine's memory
            (``50%``). The process's peak is about 1 GB above it at 100M predictions.
        duckdb_threads: Threads per DuckDB query (``ABLAB_DUCKDB_THREADS``); unset, DuckDB's
            own default, one per core.
        lake_dir: A folder the server lands its events in as a Parquet lake
            (``ABLAB_LAKE_DIR``; unset, none): every ``lake_every`` seconds it rewrites the
            files of yesterday and today (UTC), so Spark, ClickHouse or DuckDB read the same
            history (``store/warehouse/lake.py``; ``ablab events export`` writes any days).
        lake_every: Seconds between two landings (``ABLAB_LAKE_EVERY``, default 300).
        source_folders: Folders an analysis source's paths may name (``ABLAB_SOURCE_FOLDERS``,
            comma-separated); DuckDB over files reads nothing else. Empty (the default): no
            path source.
        spark_master: Where sources on Spark run (``ABLAB_SPARK_MASTER``: ``local[2]``,
            ``spark://host:7077`` or ``sc://host:15002``); unset, no Spark source.
        clickhouse: Where sources on ClickHouse run (``ABLAB_CLICKHOUSE``: ``chdb`` or
            ``clickhouse://user:password@host:8123/database``); unset, no ClickHouse source.
        source_select: Whether a source on Spark or ClickHouse may be a SELECT
            (``ABLAB_SOURCE_SELECT``, default false): it runs as written on the engine, which
            may read files the operator did not list. DuckDB's SELECTs read only
            ``source_folders`` and are always allowed.
        unit_days_dir: Where the per-unit-per-day totals of sourced experiments are kept
            (``ABLAB_UNIT_DAYS_DIR``; default ``<home>/unit-days``), so a refresh reads only
            the days that changed (``store/warehouse/unit_days.py``); each engine reads it,
            so a Spark cluster or a ClickHouse server needs it on a path they share.
        event_checkers: Processes that check event batches for the server
            (``ABLAB_EVENT_CHECKERS``, default 2): parsing and checking a batch then never
            holds the server's GIL while it answers requests; 0 checks in the server.
    """

    model_config = SettingsConfigDict(env_prefix="ABLAB_", extra="ignore")

    home: Path = Path(".ablab")
    database_url: SecretStr | None = None
    events_url: SecretStr | None = None
    alert_webhook: str | None = None
    project: str = "default"
    url: str | None = None
    api_key: SecretStr | None = None
    admin_key: SecretStr | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_events: int = 10_000
    monitor_interval: float = 60.0
    key_cache_seconds: float = 2.0
    model_timeout: float = 2.0
    shadow_sample: float = 1.0
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    console_sign_in_attempts: int = Field(default=5, ge=1, le=1000)
    llm_python_evaluators: bool = False
    gc_freeze: bool = True
    metrics_access: Literal["public", "key", "off"] = "key"
    docs_access: Literal["public", "key", "off"] = "public"
    artifact_folders: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    artifact_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    skops_trusted_types: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mlflow_tracking_uri: SecretStr | None = None
    mlflow_registry_uri: SecretStr | None = None
    outbound_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    outbound_deny: Annotated[list[str], NoDecode] = Field(default_factory=list)
    llm_run_lease_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    events_pool_size: int = Field(default=10, ge=1, le=1000)
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int | None = Field(default=None, ge=1, le=1024)
    event_checkers: int = Field(default=2, ge=0, le=64)
    lake_dir: Path | None = None
    lake_every: float = Field(default=300.0, ge=10.0, le=7 * 24 * 3600.0)
    source_folders: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    spark_master: str | None = None
    clickhouse: SecretStr | None = None
    source_select: bool = False
    unit_days_dir: Path | None = None

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        """A size DuckDB reads, checked at start-up: DuckDB would refuse a wrong one only
        when the event store opens, and a zero one fails its first allocation."""
        found = _MEMORY_SIZE.fullmatch(value)
        if found is None:
            raise ValueError(
                f"{value!r} is not a memory size: write a number and a unit, as 4GB, 512MB, "
                "8GiB, or a share of the machine's memory, as 50%"
            )
        amount = float(found["amount"])
        if amount <= 0 or (found["unit"] == "%" and amount > 100):
            raise ValueError(f"{value!r} must be above zero (and at most 100%)")
        return value.strip()

    @field_validator(
        "artifact_folders",
        "source_folders",
        "artifact_modules",
        "skops_trusted_types",
        "outbound_allow",
        "outbound_deny",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
