"""Pure rollback rules: no I/O, no clock reads. Time is always a parameter."""
