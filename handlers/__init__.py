"""Thin Bolt listeners: parse, call one bot service function, render with handlers.blockkit.cards."""
