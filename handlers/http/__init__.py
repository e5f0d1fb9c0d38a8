"""HTTP routes beside Slack's: Alertmanager webhooks, health, readiness and metrics."""
