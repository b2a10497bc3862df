"""``create_app(settings)``: the REST API of DESIGN.md over the service layer.

Nothing happens at import. The lifespan opens the stores (SQLite and DuckDB under
``$ABLAB_HOME``, or PostgreSQL), makes the first admin key on a fresh store, starts the
assignment writer and the scheduler of the background jobs (the monitor's rounds, the LLM
runs and their leases, the keys' ``last_used_at``), and closes everything on shutdown.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from ablab.domain.lifecycle import ExperimentStatus
from ablab.gateway.gateway import Gateway
from ablab.notify import WebhookAlerts
from ablab.server.auth import TOUCH_WRITE_EVERY, KeyCache
from ablab.server.breakers import all_breaker_readings
from ablab.server.console import install_console
from ablab.server.errors import install_error_handlers
from ablab.server.event_checker import EventChecker
from ablab.server.experiment_cache import ExperimentCache
from ablab.server.hot_paths import FastPaths
from ablab.server.input_guard import plain_parameters
from ablab.server.llm_jobs import LlmJobs
from ablab.server.observability import Telemetry, TelemetryMiddleware
from ablab.server.routers import (
    access,
    admin,
    catalogue,
    experiments,
    health,
    llm,
    rollouts,
    sdk,
    sources,
)
from ablab.server.scheduler import Scheduler
from ablab.server.security_headers import SecurityHeaders
from ablab.server.sign_in_throttle import SignInThrottle
from ablab.server.state import EventLog, ServerState
from ablab.server.trust import operator_trust
from ablab.services.access.keys import bootstrap_admin_key
from ablab.services.assignment.live import LiveAssigner
from ablab.services.automation.monitor import Monitor
from ablab.services.llm.leases import RunLease
from ablab.services.llm.runs import recover_interrupted
from ablab.services.ports import MetadataStore
from ablab.settings import Settings
from ablab.store.open import open_stores
from ablab.store.warehouse.lake_export import ArrowReader, land_recent
from ablab.store.warehouse.sourced_events import SourcedEvents

__all__ = ["create_app"]

logger = logging.getLogger("ablab.server")


def _experiments_by_status(store: MetadataStore) -> dict[str, int]:
    counts = dict.fromkeys((s.value for s in ExperimentStatus), 0)
    with store.session(read_only=True) as session:
        for project in session.list_projects():
            for experiment in session.list_experiments(project.id):
                counts[experiment.status.value] += 1
    return counts


def open_state(settings: Settings, telemetry: Telemetry) -> tuple[ServerState, str | None]:
    """The stores and caches of a server, and a generated first admin key (or None)."""
    # --- event checkers: started before the stores open (no DuckDB thread yet); they get
    # ready while the stores open ---
    event_checker = EventChecker(settings, wait=False)
    try:
        store, events = open_stores(settings)
        event_checker.wait_ready()
    except BaseException:
        event_checker.close()
        raise
    # --- end event checkers ---
    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    try:
        generated = bootstrap_admin_key(store, admin_key, settings.project)
        # Runs whose owner stopped mid-way (its lease expired) can never be answered now;
        # the runs other replicas still renew are theirs to finish.
        recover_interrupted(store)
    except BaseException:
        event_checker.close()
        events.close()
        store.close()
        raise
    trust = operator_trust(settings)
    alerts = (
        WebhookAlerts(settings.alert_webhook, outbound=trust.outbound)
        if settings.alert_webhook
        else None
    )
    assigner = LiveAssigner(store)
    experiments = ExperimentCache(store)
    event_log = EventLog(store, events, experiments, assigner, event_checker)
    state = ServerState(
        settings=settings,
        store=store,
        events=events,
        keys=KeyCache(store, ttl=settings.key_cache_seconds, trust=trust),
        assigner=assigner,
        experiments=experiments,
        telemetry=telemetry,
        gateway=Gateway(
            store,
            event_log.log,
            timeout=settings.model_timeout,
            shadow_sample=settings.shadow_sample,
            trust=trust,
        ),
        event_log=event_log,
        alerts=alerts,
        sign_ins=SignInThrottle(settings.console_sign_in_attempts),
        llm_jobs=LlmJobs(RunLease.new("server", settings.llm_run_lease_seconds)),
        trust=trust,
        event_checker=event_checker,
        sources=events.engines if isinstance(events, SourcedEvents) else None,
    )
    if settings.monitor_interval > 0:
        state.monitor = Monitor(store, events, alerts, interval=settings.monitor_interval)
    return state, generated


def close_state(state: ServerState) -> None:
    state.llm_jobs.close()  # the scheduler has stopped: no renewal comes after the hand-back
    state.event_log.close()
    if state.event_checker is not None:  # after the event log: its last batches use them
        state.event_checker.close()
    state.assigner.close()
    state.events.close()
    state.store.close()


def _schedule(state: ServerState) -> Scheduler:
    """The server's background jobs, on one scheduler (started here, stopped on shutdown)."""
    scheduler = Scheduler()
    if state.monitor is not None:
        scheduler.every(state.monitor.interval, state.monitor.run_once, name="monitor")
    state.llm_jobs.open(state.store, scheduler)  # renews its runs' leases, ends expired ones
    scheduler.every(TOUCH_WRITE_EVERY, state.keys.write_touches, name="key-touches")
    lake = state.settings.lake_dir
    if lake is not None and isinstance(state.events, ArrowReader):
        events = state.events
        scheduler.every(state.settings.lake_every, lambda: land_recent(events, lake), name="lake")
    return scheduler.start()


def _stop_scheduler(scheduler: Scheduler, state: ServerState) -> None:
    scheduler.stop()
    try:
        state.keys.write_touches()  # the uses noted since the last write
    except Exception:  # a courtesy: the stores are closing anyway
        logger.exception("could not write the keys' last uses on shutdown")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ablab server. ``settings`` default to the ``ABLAB_*`` environment."""
    settings = settings or Settings()
    operator_trust(settings)  # a malformed ABLAB_ARTIFACT_*/OUTBOUND_* refuses to start here
    telemetry = Telemetry(
        lambda: _experiments_by_status(app.state.ablab.store),
        breakers=lambda: all_breaker_readings(app.state.ablab),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state, generated = open_state(settings, telemetry)
        if generated is not None:
            # Shown once: only its hash is stored.
            logger.warning("created the first admin key (save it now): %s", generated)
            app.state.generated_admin_key = generated
        app.state.ablab = state
        if settings.gc_freeze:
            # What start-up made lives as long as the server: frozen, the collector's full
            # passes stop walking it again and again (they showed as p99 spikes under load:
            # bench/gateway.py's added p99 went from 19.6 to 8.7 ms).
            gc.collect()
            gc.freeze()
        scheduler = _schedule(state)
        try:
            yield
        finally:
            await state.gateway.close()
            # Off the loop: stopping waits for the running jobs (a monitor round, a run).
            await run_in_threadpool(_stop_scheduler, scheduler, state)
            close_state(state)

    app = FastAPI(
        title="ablab",
        version=version("ablab"),
        summary="Decide between versions of a machine-learning model on real traffic.",
        lifespan=lifespan,
        # Served by routers/health.py, as the operator's ABLAB_DOCS_ACCESS allows.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(plain_parameters)],
    )
    install_error_handlers(app)
    for router in (
        experiments.router,
        rollouts.router,
        llm.router,
        catalogue.router,
        sources.router,
        sdk.router,
        access.router,
        admin.router,
        health.router,
    ):
        app.include_router(router)
    install_console(app)
    # Added last is outermost: telemetry sees every request, the hot paths included.
    app.add_middleware(FastPaths)
    app.add_middleware(
        TelemetryMiddleware, telemetry=telemetry, max_body_bytes=settings.max_body_bytes
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, a 413 included
    return app
