"""The apps ``bench/gateway.py`` serves: the upstream model and the anchor proxy.

- ``upstream``: a model server answering fixed JSON, as raw ASGI (so the upstream is never
  the bottleneck).
- ``proxy``: the minimal FastAPI proxy the issue names: one aiohttp ClientSession, the body
  forwarded to the upstream, its answer returned.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from fastapi import FastAPI, Request, Response

ANSWER = b'{"prediction": 1}'


async def upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": ANSWER})


UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9/predict")
_session: dict[str, aiohttp.ClientSession] = {}


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    _session["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
    yield
    await _session["s"].close()


proxy = FastAPI(lifespan=_lifespan)


@proxy.post("/predict")
async def forward(request: Request) -> Response:
    async with _session["s"].post(UPSTREAM, data=await request.body()) as answer:
        return Response(await answer.read(), media_type="application/json")
