"""Use cases for custom metric definitions, and the lookup every analysis shares."""

from __future__ import annotations

from ablab.domain.ids import new_id
from ablab.domain.metrics import (
    BUILTIN_METRICS,
    CustomMetric,
    MetricDefinition,
    validate_custom_metric,
)
from ablab.domain.specs import MetricSpec
from ablab.errors import Conflict, NotFound
from ablab.services.access.audit import record
from ablab.services.context import Context
from ablab.services.ports import MetadataSession

__all__ = ["define_metric", "get_metric", "list_metrics", "require_metric", "resolve_metrics"]


def define_metric(ctx: Context, spec: MetricSpec) -> CustomMetric:
    """Define a custom metric in the project.

    Raises:
        ValidationError: a built-in or malformed name, or a kind other than proportion or
            continuous.
        Conflict: the name is taken.
    """
    metric = validate_custom_metric(
        CustomMetric(
            id=new_id("met"),
            project_id=ctx.project_id,
            name=spec.name,
            aggregation=spec.aggregation,
            kind=spec.kind,
            higher_is_better=spec.higher_is_better,
            created_at=ctx.clock(),
            description=spec.description,
        )
    )
    with ctx.store.session() as session:
        if session.get_metric(ctx.project_id, metric.name) is not None:
            raise Conflict(
                f"a metric called {metric.name!r} already exists", details={"metric": metric.name}
            )
        session.add_metric(metric)
        record(
            ctx,
            session,
            "create",
            "metric",
            metric.id,
            after={
                "name": metric.name,
                "aggregation": metric.aggregation.value,
                "kind": metric.kind.value,
                "higher_is_better": metric.higher_is_better,
            },
        )
    return metric


def get_metric(ctx: Context, name: str) -> CustomMetric:
    with ctx.store.session(read_only=True) as session:
        return require_metric(session, ctx, name)


def list_metrics(ctx: Context) -> list[CustomMetric]:
    with ctx.store.session(read_only=True) as session:
        return session.list_metrics(ctx.project_id)


def require_metric(session: MetadataSession, ctx: Context, name: str) -> CustomMetric:
    metric = session.get_metric(ctx.project_id, name)
    if metric is None:
        raise NotFound(
            f"unknown metric {name!r}: use a built-in one ({', '.join(BUILTIN_METRICS)}) or "
            "define it with `ablab metric create`",
            details={"metric": name},
        )
    return metric


def resolve_metrics(
    session: MetadataSession, ctx: Context, names: tuple[str, ...]
) -> dict[str, MetricDefinition | CustomMetric]:
    """Each name's built-in definition or the project's custom metric.

    Raises:
        NotFound: a name that is neither.
    """
    found: dict[str, MetricDefinition | CustomMetric] = {}
    for name in dict.fromkeys(names):
        builtin = BUILTIN_METRICS.get(name)
        found[name] = builtin if builtin is not None else require_metric(session, ctx, name)
    return found
