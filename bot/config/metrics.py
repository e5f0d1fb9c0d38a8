"""Prometheus metrics, on a registry of their own so several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "rollbot_commands_total",
            "Slash commands by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.requests_opened = Counter(
            "rollbot_rollback_requests_opened_total",
            "Rollback requests opened",
            registry=self.registry,
        )
        self.outbox_delivered = Counter(
            "rollbot_outbox_delivered_total",
            "Slack messages delivered from the outbox",
            registry=self.registry,
        )
        self.outbox_retries = Counter(
            "rollbot_outbox_retries_total",
            "Slack deliveries postponed",
            ["reason"],
            registry=self.registry,
        )
        self.outbox_failed = Counter(
            "rollbot_outbox_failed_total",
            "Slack messages Slack refused for good (never retried), by Slack's error",
            ["error"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "rollbot_outbox_pending",
            "Slack messages waiting to be delivered",
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "rollbot_ack_seconds",
            "Time from request to Slack acknowledgement",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
