"""What the clock drives: decision timeouts, the recovery watch, reminders, leases of rollbacks in flight."""
