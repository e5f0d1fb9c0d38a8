"""Fakes of LaunchDarkly and Unleash: their HTTP APIs, their auth headers, their failures."""
