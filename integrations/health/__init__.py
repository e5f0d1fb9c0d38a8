"""Verifying recovery: HTTP health checks, smoke tests and Prometheus queries."""
