"""The anchor of ``bench/server.py``: bare FastAPI endpoints of the same shapes as ours.

``POST /assign`` parses a pydantic body like ``/v1/assign`` and answers a small object;
``POST /events`` parses a pydantic batch like ``/v1/events`` and answers counts. No
authentication, storage or assignment: the framework's own cost, served the same way.
The endpoints are ``async def``: FastAPI's fastest form (a plain ``def`` runs each request
in a worker thread).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI()


class AssignBody(BaseModel):
    experiment: str
    unit_id: str
    attributes: dict[str, Any] = Field(default_factory=dict)


class EventsBody(BaseModel):
    events: list[dict[str, Any]]


@app.post("/assign")
async def assign(body: AssignBody) -> dict[str, Any]:
    return {
        "experiment": body.experiment,
        "unit_id": body.unit_id,
        "variant": "control",
        "model_version": "1.0.0",
        "in_experiment": True,
        "reason": "new",
    }


@app.post("/events")
async def events(body: EventsBody) -> dict[str, int]:
    return {"received": len(body.events), "stored": len(body.events)}
