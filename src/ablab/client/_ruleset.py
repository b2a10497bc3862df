"""``LocalAssigner``: the SDK assigns units itself, from the server's ruleset.

The ruleset (``GET /v1/sdk/config``) is fetched at the first assignment and refreshed in
the background every ``refresh`` seconds with its ETag (an unchanged ruleset costs a 304).
If the server stops answering, the last good ruleset keeps serving. The rules are the
server's own type (:class:`~ablab.assignment.rules.ExperimentRules`) and the decision is
the server's own function (:func:`~ablab.assignment.decide.decide`), so both give a unit
the same answer. A unit keeps the variant it got in this process; when the answer depends
on a unit's stored variant (the plan changed since launch, or the unit is now outside the
group or the coverage), the server is asked.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from ablab.assignment import (
    NEEDS_STORED,
    UNKNOWN,
    AssignmentReason,
    CompiledRules,
    ExperimentRules,
    compile_rules,
    decide,
)
from ablab.contract.catalogue import AssignmentPublic
from ablab.errors import AblabError, Unavailable

__all__ = ["LocalAssigner"]

logger = logging.getLogger("ablab.client")

FetchConfig = Callable[[str | None], tuple[dict[str, Any] | None, str | None]]
AskServer = Callable[[str, str, dict[str, Any]], AssignmentPublic]

# Fields a newer server adds are ignored, so an older SDK keeps assigning.
_RULES = pydantic.TypeAdapter(ExperimentRules)  # a plain dataclass: extra fields are ignored
# Answers that say what the store holds for the unit (or will: a new one is stored by its
# exposure), so this process may answer the same from memory next time.
_STORED = (AssignmentReason.NEW, AssignmentReason.STICKY)


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
        self._rules: dict[str, CompiledRules] | None = None
        self._etag: str | None = None
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refreshes = 0

    def assign(
        self, experiment: str, unit_id: str, attributes: Mapping[str, Any] | None = None
    ) -> AssignmentPublic:
        """The variant for ``unit_id``, computed here whenever the ruleset allows."""
        found = self._decide_here(experiment, unit_id, attributes)
        if found is None:
            found = self._ask_server(experiment, unit_id, dict(attributes or {}))
        if found.in_experiment and found.reason in _STORED and found.variant is not None:
            with self._lock:
                self._known[(experiment, unit_id)] = found.variant
                if len(self._known) > self._max_units:
                    self._known.popitem(last=False)
        return found

    def _decide_here(
        self, experiment: str, unit_id: str, attributes: Mapping[str, Any] | None
    ) -> AssignmentPublic | None:
        """The answer from the ruleset, or None when only the server can give it (an
        experiment the ruleset lacks, such as a draft or a typo, or a unit whose stored
        variant matters)."""
        rules = self._ruleset().get(experiment)
        if rules is None:
            return None
        with self._lock:
            known = self._known.get((experiment, unit_id))
        decision = decide(rules, unit_id, attributes, stored=UNKNOWN if known is None else known)
        if decision is NEEDS_STORED:
            return None
        return AssignmentPublic.from_domain(decision)

    def _ruleset(self) -> dict[str, CompiledRules]:
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
            rules: dict[str, CompiledRules] = {}
            for entry in config.get("experiments", []):
                try:
                    compiled = compile_rules(_RULES.validate_python(entry))
                except (AblabError, pydantic.ValidationError):
                    name = entry.get("name") if isinstance(entry, dict) else None
                    logger.warning("skipping an experiment the SDK cannot read: %s", name)
                    continue
                rules[compiled.rules.name] = rules[compiled.rules.id] = compiled
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
