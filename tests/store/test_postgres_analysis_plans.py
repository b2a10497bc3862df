"""PostgreSQL plans the analysis without nested loops, even before its tables are analysed.

Right after a burst of events, before autovacuum has analysed the tables, PostgreSQL
estimates one row per scan and joined each prediction to the latest labels by a nested
loop that ranked every label again per prediction: the novelty windows of 9,177 predictions
took 35 s (24 ms once analysed). The store turns nested loops off for its analysis reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from ablab.store.events import PostgresEventStore
from ablab.store.events.model_metric_sql import model_metrics_query
from ablab.store.events.render import render
from ablab.store.events.sql_parts import Query
from ablab.store.events.window_metric_sql import window_model_metrics_query
from tests.conftest import scratch_postgres_database
from tests.engines.fixture_events import LAUNCH, PRE_WINDOW, PRIOR, fixture_batch
from tests.engines.test_same_answer import BASE, CUSTOM

pytestmark = pytest.mark.postgres

QUERIES = {
    "model metrics": model_metrics_query(BASE),
    "cuped pre-window": model_metrics_query(
        dataclasses.replace(CUSTOM, pre_window=PRE_WINDOW, prior_experiment_ids=(PRIOR,))
    ),
    "windows": window_model_metrics_query(BASE, [LAUNCH + timedelta(days=day) for day in range(4)]),
}


@pytest.fixture(scope="module")
def unanalysed(postgres_url: str) -> Iterator[PostgresEventStore]:
    """A store just filled, with no ANALYZE since (autovacuum waits a minute at least)."""
    with scratch_postgres_database(postgres_url, "ablab_plans") as url:
        store = PostgresEventStore(url)
        store.append(fixture_batch())
        yield store
        store.close()


@pytest.mark.parametrize("name", list(QUERIES))
def test_an_analysis_read_plans_no_nested_loop(unanalysed: PostgresEventStore, name: str) -> None:
    query: Query = QUERIES[name]
    sql, params = render(query.sql, query.params, unanalysed.engine)
    _, rows = unanalysed._fetch(f"EXPLAIN {sql}", params)
    plan = "\n".join(str(row[0]) for row in rows)
    assert "Seq Scan" in plan or "Index" in plan  # a plan was read
    assert "Nested Loop" not in plan, plan
