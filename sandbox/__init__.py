"""Faithful in-repo fakes of Slack and Kubernetes, reached over real HTTP by base URL."""
