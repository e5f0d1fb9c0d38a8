"""The entry points: the rollbot command, the composition root, and the demo."""
