"""``WebhookAlerts``: POST each alert as JSON to a URL, retrying briefly, never raising.

An alert that cannot be delivered is logged: the automatic stop it announces has already
happened and must not be undone by a notification failure. The URL is the operator's
(``ABLAB_ALERT_WEBHOOK``), yet it goes through the same outbound policy as the URLs that
API keys register, so one rule says where the server may send requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import httpx

from ablab.domain.trust import OutboundPolicy
from ablab.services.access.outbound import OutboundRefused, guarded_transport

__all__ = ["WebhookAlerts"]

logger = logging.getLogger(__name__)


class WebhookAlerts:
    """Alerts to ``url``; with ``outbound``, only to addresses that policy allows."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._outbound = outbound

    def send(self, alert: Mapping[str, object]) -> None:
        problem = "not sent"
        for attempt in range(1, self._attempts + 1):
            try:
                with self._client() as client:
                    response = client.post(self.url, json=dict(alert))
                if response.status_code < 500:
                    if response.is_error:
                        logger.warning("alert webhook refused the alert: %s", response.status_code)
                    return
                problem = f"HTTP {response.status_code}"
            except OutboundRefused as exc:  # a refusal does not pass with time
                logger.error("alert webhook %s not called: %s", self.url, exc)
                return
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                problem = type(exc).__name__
            if attempt < self._attempts:
                time.sleep(self._backoff * 2 ** (attempt - 1))
        logger.error(
            "alert webhook %s unreachable after %d attempts (%s)", self.url, self._attempts, problem
        )

    def _client(self) -> httpx.Client:
        transport = guarded_transport(self._outbound) if self._outbound is not None else None
        return httpx.Client(timeout=self._timeout, transport=transport)
