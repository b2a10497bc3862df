"""What the server shows of the gateway's circuit breakers (issue 18): each backend's state
and how many times it opened, for ``/metrics`` and for the console's experiment view.

A breaker lives in the process that calls its backend: the in-process :class:`Gateway`
behind ``POST /v1/predict``, one per server process. So these are this process's breakers:
each worker of ``ablab serve --workers N`` and each replica behind a load balancer has its
own, and Prometheus, which scrapes every instance, is where they are seen side by side. A
backend is keyed ``model@version`` (``radiology-v1@2.0.0``); one never called since the
process started has no breaker yet, and is closed.
"""

from __future__ import annotations

from ablab.gateway.breaker import BreakerReading, BreakerState, CircuitBreaker
from ablab.gateway.gateway import Gateway
from ablab.server.state import ServerState

__all__ = ["BreakerLine", "all_breaker_readings", "breaker_readings", "breaker_states"]

BreakerLine = tuple[str, str, BreakerReading]  # (project id, model version id, reading)


def breaker_readings(state: ServerState, project_id: str) -> dict[str, BreakerReading]:
    """The state and count of openings of each backend of ``project_id`` this process called.

    Args:
        state: The running server's state (``request.app.state.ablab``).
        project_id: The project whose breakers to read; no other project's are returned.

    Returns:
        Backend name (``model@version``) to its reading, sorted by name. A backend absent
        here was never called by this process: it is closed and never opened.
    """
    found = {
        backend: breaker.reading()
        for (project, backend), breaker in _breakers(state.gateway)
        if project == project_id
    }
    return dict(sorted(found.items()))


def breaker_states(state: ServerState, project_id: str) -> dict[str, BreakerState]:
    """Backend name (``model@version``) to its breaker's state, for one project.

    The console's call: ``breaker_states(request.app.state.ablab, viewer.ctx.project_id)``,
    then ``.get(f"{experiment.model}@{variant.model_version}", BreakerState.CLOSED)``.
    """
    return {backend: r.state for backend, r in breaker_readings(state, project_id).items()}


def all_breaker_readings(state: ServerState) -> list[BreakerLine]:
    """Every breaker of this process, for ``/metrics``: labelled with its project's id and its
    model version's id, never their names.

    ``/metrics`` is read with any project's key (``ABLAB_METRICS_ACCESS=key``), and nothing of
    one project may be read through another's: ids say which breaker is which to the
    operator (``GET /v1/models`` lists each version's id to its own project), names would
    tell every tenant the others' models. When the metadata store does not answer, or the
    version is gone, the backend is labelled ``unknown`` rather than named, so a scrape in
    an incident still shows the breakers (which are most worth seeing then).
    """
    breakers = _breakers(state.gateway)
    if not breakers:
        return []
    ids: dict[tuple[str, str], str] = {}
    try:
        with state.store.session(read_only=True) as session:
            for project, backend in {key for key, _ in breakers}:
                model_name, _, version = backend.rpartition("@")
                model = session.get_model(project, model_name)
                found = session.get_model_version(model.id, version) if model else None
                if found is not None:
                    ids[(project, backend)] = found.id
    except Exception:  # a scrape must not fail because the store is briefly away
        ids = {}
    lines = [
        (project, ids.get((project, backend), "unknown"), breaker.reading())
        for (project, backend), breaker in breakers
    ]
    return sorted(lines, key=lambda line: (line[0], line[1]))


def _breakers(gateway: Gateway) -> list[tuple[tuple[str, str], CircuitBreaker]]:
    # A copy first: the event loop adds breakers while a scrape (in a worker thread) reads.
    return list(gateway.breakers.copy().items())
