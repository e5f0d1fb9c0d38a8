"""Slack's Web API: delivering notices in order per channel, incident channels, roles from user groups."""
