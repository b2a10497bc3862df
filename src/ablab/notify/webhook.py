"""``WebhookAlerts``: POST each alert as JSON to a URL, retrying briefly, never raising.

An alert that cannot be delivered is logged: the automatic stop it announces has already
happened and must not be undone by a notification failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import httpx

__all__ = ["WebhookAlerts"]

logger = logging.getLogger(__name__)


class WebhookAlerts:
    def __init__(
        self, url: str, *, timeout: float = 5.0, attempts: int = 3, backoff: float = 0.5
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff

    def send(self, alert: Mapping[str, object]) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                response = httpx.post(self.url, json=dict(alert), timeout=self._timeout)
                if response.status_code < 500:
                    if response.is_error:
                        logger.warning("alert webhook refused the alert: %s", response.status_code)
                    return
                problem = f"HTTP {response.status_code}"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                problem = type(exc).__name__
            if attempt < self._attempts:
                time.sleep(self._backoff * 2 ** (attempt - 1))
        logger.error(
            "alert webhook %s unreachable after %d attempts (%s)", self.url, self._attempts, problem
        )
