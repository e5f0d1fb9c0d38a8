"""A Kubernetes API server the real kubectl accepts, with a deployment controller."""
