"""Feature flags as rollback targets: LaunchDarkly and Unleash over their HTTP APIs."""
