"""Seed 004's console requests work as its text writes them: display names for variants and
fractional weights that sum to 1 within their rounding."""

from __future__ import annotations

from collections import Counter

from tests.server.conftest import Project, RunningServer


def test_a_three_way_experiment_of_display_names_and_thirds_launches(
    server: RunningServer, project: Project
) -> None:
    http = project.http()
    created = http.post(
        "/v1/admin/experiments",
        json={"name": "checkout-copy", "hypothesis": "Shorter copy sells", "bandit_enabled": False},
    )
    assert created.status_code == 201, created.text
    ref = created.json()["id"]
    for name in ("Variant A", "Variant B", "Variant C (long)"):
        added = http.post(
            f"/v1/admin/experiments/{ref}/variants", json={"name": name, "traffic_weight": 0.3333}
        )
        assert added.status_code == 201, added.text
    variants = added.json()["variants"]
    assert [v["name"] for v in variants] == ["Variant A", "Variant B", "Variant C (long)"]

    launched = http.post(f"/v1/admin/experiments/{ref}/launch")
    assert launched.status_code == 200, launched.text
    assert launched.json()["status"] == "running"
    seen = Counter(
        http.post("/v1/assign", json={"experiment": "checkout-copy", "unit_id": f"u{i}"}).json()[
            "variant"
        ]
        for i in range(600)
    )
    assert set(seen) == {"Variant A", "Variant B", "Variant C (long)"}
    assert all(150 <= count <= 250 for count in seen.values()), seen


def test_weights_that_miss_one_by_more_than_rounding_are_refused(
    server: RunningServer, project: Project
) -> None:
    http = project.http()
    ref = http.post("/v1/admin/experiments", json={"name": "short"}).json()["id"]
    for name in ("a", "b", "c"):
        http.post(
            f"/v1/admin/experiments/{ref}/variants", json={"name": name, "traffic_weight": 0.333}
        )
    refused = http.post(f"/v1/admin/experiments/{ref}/launch")
    assert refused.status_code == 422, refused.text
    assert "must sum to 100, got 99.9" in refused.json()["error"]["message"]
