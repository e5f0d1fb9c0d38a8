"""Adapters behind the Protocols declared in bot.ports: Kubernetes, CodeDeploy, flags, Slack roles."""
