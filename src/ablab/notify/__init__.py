"""Outbound notifications: the alert webhook."""

from ablab.notify.webhook import WebhookAlerts

__all__ = ["WebhookAlerts"]
