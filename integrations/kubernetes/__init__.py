"""Kubernetes through the official client: Deployments the way kubectl rolls them back, and ConfigMaps."""
