"""Prometheus metrics, on a registry of their own so several apps can live in one process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

# A rollback's life from request to its end: minutes to hours (obligations aside).
_DURATION_BUCKETS = (60, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400)


@dataclass(frozen=True)
class Backlog:
    waiting: int = 0
    oldest_seconds: float = 0.0


@dataclass(frozen=True)
class OperationalGauges:
    """What /metrics reports as it stands, read from the database at scrape time."""

    open_by_state: dict[str, int] = field(default_factory=dict)
    approvals_pending: Backlog = Backlog()
    obligations_due: dict[str, int] = field(default_factory=dict)
    obligations_overdue: dict[str, int] = field(default_factory=dict)
    inbox: Backlog = Backlog()
    outbox: Backlog = Backlog()


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
        self._counters()
        self._gauges()

    def _counters(self) -> None:
        self.rollbacks = Counter(
            "rollbot_rollbacks_total",
            "Rollbacks executed, by outcome (succeeded, failed) and kind",
            ["outcome", "kind"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "rollbot_request_duration_seconds",
            "Time from a request to its end, by how it ended",
            ["state"],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.decision_timeouts = Counter(
            "rollbot_decision_timeouts_total",
            "Automatic rollbacks started because nobody decided in time",
            registry=self.registry,
        )
        self.scheduler_last_tick = Gauge(
            "rollbot_scheduler_last_tick_timestamp_seconds",
            "When this process's scheduler last finished a tick (Unix time)",
            registry=self.registry,
        )
        self.build = Info("rollbot_build", "The running rollbot", registry=self.registry)

    def _gauges(self) -> None:
        def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, text, list(labels), registry=self.registry)

        self.open_requests = gauge(
            "rollbot_open_requests", "Requests not ended yet, by state", ("state",)
        )
        self.approvals_pending = gauge(
            "rollbot_approvals_pending", "Requests waiting for an approval"
        )
        self.approvals_oldest = gauge(
            "rollbot_approvals_pending_oldest_seconds",
            "How long the longest-waiting request has waited for its approvals",
        )
        self.obligations_due = gauge(
            "rollbot_obligations_due", "Obligations not met yet and not overdue, by kind", ("kind",)
        )
        self.obligations_overdue = gauge(
            "rollbot_obligations_overdue", "Obligations past their deadline, by kind", ("kind",)
        )
        self.inbox_waiting = gauge("rollbot_inbox_waiting", "Stored requests not processed yet")
        self.inbox_oldest = gauge(
            "rollbot_inbox_oldest_seconds", "Age of the oldest stored request not processed yet"
        )
        self.outbox_oldest = gauge(
            "rollbot_outbox_oldest_seconds", "Age of the oldest Slack message not delivered yet"
        )

    def publish(self, now: OperationalGauges) -> None:
        """Set the gauges to what the database says now (states that emptied read 0)."""
        for metric, values in (
            (self.open_requests, now.open_by_state),
            (self.obligations_due, now.obligations_due),
            (self.obligations_overdue, now.obligations_overdue),
        ):
            metric.clear()
            for label, value in values.items():
                metric.labels(label).set(value)
        self.approvals_pending.set(now.approvals_pending.waiting)
        self.approvals_oldest.set(now.approvals_pending.oldest_seconds)
        self.inbox_waiting.set(now.inbox.waiting)
        self.inbox_oldest.set(now.inbox.oldest_seconds)
        self.outbox_pending.set(now.outbox.waiting)
        self.outbox_oldest.set(now.outbox.oldest_seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
