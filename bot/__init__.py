"""rollbot: governed production rollbacks from Slack."""
