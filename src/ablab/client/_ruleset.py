"""``LocalAssigner``: the SDK assigns units itself, from the server's ruleset.

The ruleset (``GET /v1/sdk/config``) is fetched at the first assignment and refreshed in
the background every ``refresh`` seconds with its ETag (an unchanged ruleset costs a 304).
If the server stops answering, the last good ruleset keeps serving. Assignment is the
server's (same hash, same plan, same targeting); a unit keeps the variant it got in this
process. When an experiment's plan changed since launch, a unit this process has not
assigned may hold an older variant on the server, so that unit is asked of the server.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ablab.assignment import AssignmentPlan, compile_condition
from ablab.contract.catalogue import AssignmentPublic
from ablab.domain.assignments import AssignmentReason
from ablab.domain.rollouts import in_share
from ablab.errors import AblabError, Unavailable

__all__ = ["LocalAssigner"]

logger = logging.getLogger("ablab.client")

FetchConfig = Callable[[str | None], tuple[dict[str, Any] | None, str | None]]
AskServer = Callable[[str, str, dict[str, Any]], AssignmentPublic]


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    status: str
    plan: AssignmentPlan | None
    winner: str | None
    control: str | None
    versions: Mapping[str, str | None]
    plan_changed: bool
    targeted: Callable[[str, Mapping[str, Any]], bool] | None
    rollout: Mapping[str, Any] | None = None  # the experiment's own: id, status, share
    governing: Mapping[str, Any] | None = None  # another's in progress: id, share, previous


def _rule(entry: Mapping[str, Any]) -> _Rule:
    variants = entry["variants"]
    plan = None
    if variants:
        plan = AssignmentPlan.from_weights(
            entry["salt"],
            [(v["name"], float(v["weight"])) for v in variants],
            coverage_percent=float(entry["coverage"]),
        )
    group = entry.get("group")
    targeted: Callable[[str, Mapping[str, Any]], bool] | None = None
    if group is not None:
        if group.get("condition") is not None:
            predicate = compile_condition(group["condition"])
            targeted = lambda unit, attributes: bool(predicate(attributes))  # noqa: E731
        else:
            members = frozenset(group.get("members") or ())
            targeted = lambda unit, attributes: unit in members  # noqa: E731
    return _Rule(
        name=entry["name"],
        status=entry["status"],
        plan=plan,
        winner=entry.get("winner"),
        control=next((v["name"] for v in variants if v["is_control"]), None),
        versions={v["name"]: v["model_version"] for v in variants},
        plan_changed=bool(entry.get("plan_changed")),
        targeted=targeted,
        rollout=entry.get("rollout"),
        governing=entry.get("governing_rollout"),
    )


class LocalAssigner:
    def __init__(
        self,
        fetch: FetchConfig,
        ask_server: AskServer,
        *,
        refresh: float = 30.0,
        max_units: int = 100_000,
    ) -> None:
        self._fetch = fetch
        self._ask_server = ask_server
        self._refresh = refresh
        self._max_units = max_units
        self._rules: dict[str, _Rule] | None = None
        self._etag: str | None = None
        self._known: OrderedDict[tuple[str, str], AssignmentPublic] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0

    def assign(
        self, experiment: str, unit_id: str, attributes: Mapping[str, Any] | None = None
    ) -> AssignmentPublic:
        """The variant for ``unit_id``, computed here whenever the ruleset allows."""
        rules = self._ruleset()
        rule = rules.get(experiment)
        if rule is None:  # unknown here (a draft, a new experiment, a typo): the server knows
            return self._ask_server(experiment, unit_id, dict(attributes or {}))
        key = (experiment, unit_id)
        with self._lock:
            known = self._known.get(key)
        if known is not None and rule.status == "running":
            return known
        found = self._decide(rule, unit_id, attributes or {})
        if found is None:
            found = self._ask_server(experiment, unit_id, dict(attributes or {}))
        if found.in_experiment:
            with self._lock:
                self._known[key] = found
                if len(self._known) > self._max_units:
                    self._known.popitem(last=False)
        return found

    def _decide(
        self, rule: _Rule, unit_id: str, attributes: Mapping[str, Any]
    ) -> AssignmentPublic | None:
        def served(variant: str | None, inside: bool, reason: AssignmentReason) -> AssignmentPublic:
            return AssignmentPublic(
                experiment=rule.name,
                unit_id=unit_id,
                variant=variant,
                model_version=rule.versions.get(variant) if variant else None,
                in_experiment=inside,
                reason=reason,
            )

        if rule.status != "running":
            if rule.winner is None:
                return served(rule.control, False, AssignmentReason.NOT_RUNNING)
            rollout = rule.rollout or {}
            if rollout.get("status") in ("running", "paused"):
                new = in_share(rollout["id"], float(rollout["share"]), unit_id)
                variant = rule.winner if new else rule.control
                return served(variant, True, AssignmentReason.ROLLOUT)
            if rollout.get("status") == "rolled_back":
                return served(rule.control, False, AssignmentReason.ROLLED_BACK)
            return served(rule.winner, False, AssignmentReason.PROMOTED)
        if rule.plan_changed or rule.plan is None:
            return None  # the stored variant may differ from today's plan
        if rule.targeted is not None and not rule.targeted(unit_id, attributes):
            return None  # it may have entered earlier: the server knows
        governing = rule.governing
        if governing is not None and not in_share(
            governing["id"], float(governing["share"]), unit_id
        ):
            # A rollout's share only grows: a unit outside it now never entered.
            return AssignmentPublic(
                experiment=rule.name,
                unit_id=unit_id,
                variant=None,
                model_version=governing["previous_version"],
                in_experiment=False,
                reason=AssignmentReason.NOT_IN_ROLLOUT,
            )
        variant = rule.plan.assign(unit_id)
        if variant is None:
            return None
        return served(variant, True, AssignmentReason.NEW)

    def _ruleset(self) -> dict[str, _Rule]:
        if self._rules is None:
            self._load()
            self._start()
        assert self._rules is not None
        return self._rules

    def _load(self) -> None:
        try:
            config, etag = self._fetch(self._etag)
        except Unavailable:
            if self._rules is None:
                raise
            logger.warning("the ablab server does not answer: serving the last good ruleset")
            return
        if config is not None:
            rules: dict[str, _Rule] = {}
            for entry in config.get("experiments", []):
                try:
                    rule = _rule(entry)
                except (AblabError, KeyError, TypeError, ValueError):
                    logger.warning(
                        "skipping an experiment the SDK cannot read: %s", entry.get("name")
                    )
                    continue
                rules[rule.name] = rule
                rules[entry["id"]] = rule
            self._rules, self._etag = rules, etag
        self.refreshes += 1

    def _start(self) -> None:
        if self._thread is None and self._refresh > 0:
            self._thread = threading.Thread(target=self._run, name="ablab-ruleset", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._refresh):
            try:
                self._load()
            except AblabError as exc:
                logger.warning("refreshing the ruleset failed: %s", exc.message)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
