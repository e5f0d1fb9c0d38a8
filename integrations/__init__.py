"""Outbound adapters, one folder per service, behind the Protocols declared in bot.ports."""
