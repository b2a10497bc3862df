"""The experiment page shows the allocation history, read from its table, and the novelty
check of each treatment, over plain HTTP."""

from __future__ import annotations

import re

from ablab.domain.keys import Scope
from tests.console.conftest import Console
from tests.console.test_access import signed_in
from tests.console.test_flow import register_models, send, traffic


def test_the_experiment_page_lists_each_allocation_period(console: Console) -> None:
    api = console.api()
    register_models(api, "mammo", ["1", "2"])
    created = api.post(
        "/v1/experiments",
        json={"name": "alloc", "model_id": "mammo", "control_version": "1",
              "treatment_version": "2", "traffic_split": 50},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    send(
        api, traffic("alloc", {"control": 40, "treatment": 40}, {"control": 0.7, "treatment": 0.7})
    )
    changed = api.patch("/v1/experiments/alloc", json={"traffic_split": 75})
    assert changed.status_code == 200, changed.text
    client, _ = signed_in(console, Scope.READ)
    page = client.get("/experiments/alloc")
    assert page.status_code == 200
    table = re.search(r'data-testid="allocation-history">(.*?)</table>', page.text, re.S)
    assert table is not None
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", table.group(1), re.S)
    assert len(rows) == 2
    assert "launch" in rows[0]
    assert "control 50.0% · treatment 50.0%" in rows[0]
    assert ">80<" in rows[0]  # the 80 units sent so far arrived under 50/50
    assert "split" in rows[1]
    assert "control 25.0% · treatment 75.0%" in rows[1]
    assert re.search(r"key:\w+", rows[1])


def test_the_analysis_says_when_the_novelty_check_starts(console: Console) -> None:
    api = console.api()
    register_models(api, "derm", ["1", "2"])
    created = api.post(
        "/v1/experiments",
        json={"name": "fresh", "model_id": "derm", "control_version": "1",
              "treatment_version": "2"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    send(
        api, traffic("fresh", {"control": 30, "treatment": 30}, {"control": 0.7, "treatment": 0.8})
    )
    client, _ = signed_in(console, Scope.READ)
    page = client.get("/experiments/fresh").text
    found = re.search(
        r'data-testid="novelty-treatment"><dt>Trend over days</dt><dd>(.*?)</dd>', page
    )
    assert found is not None
    assert "checked for a trend from day 3 on (0.0 days so far)" in found.group(1)
