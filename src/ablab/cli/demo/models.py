"""The demo's two model versions, trained on scikit-learn's breast-cancer data (no download:
the data set ships with scikit-learn), and the HTTP model server that serves each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["Trained", "model_app", "train"]

# Version 1 reads three measurements; version 2 all thirty.
FEW_FEATURES = (0, 1, 4)  # mean radius, mean texture, mean smoothness


@dataclass(frozen=True)
class Trained:
    v1: Any
    v2: Any
    features: NDArray[np.float64]  # held-out rows the traffic draws from
    truth: NDArray[np.int64]
    accuracy: tuple[float, float]


def _few(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    return rows[:, list(FEW_FEATURES)]


def train(seed: int = 7) -> Trained:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=seed, stratify=data.target
    )
    v1 = make_pipeline(FunctionTransformer(_few), StandardScaler(), LogisticRegression())
    v1.fit(x_train, y_train)
    v2 = GradientBoostingClassifier(random_state=seed).fit(x_train, y_train)
    accuracy = (float(v1.score(x_test, y_test)), float(v2.score(x_test, y_test)))
    return Trained(v1, v2, x_test, y_test.astype(np.int64), accuracy)


def model_app(model: Any) -> Starlette:
    """``POST /predict {"features": [30 numbers]}`` -> ``{"prediction": 0 or 1}``."""

    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        row = np.asarray(body["features"], dtype=np.float64).reshape(1, -1)
        return JSONResponse({"prediction": int(model.predict(row)[0])})

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])
