"""A stateful fake of Slack's Web API and Socket Mode, and a driver that acts as a person."""
