"""Bolt listeners: decode once, ack, hand a typed command to one use case; one error handler."""
