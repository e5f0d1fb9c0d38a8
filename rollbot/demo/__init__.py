"""make demo: an incident played end to end against the sandbox fakes."""
