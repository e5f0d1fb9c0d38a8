"""The audit trail: the hash chain, the key that signs its checkpoints, the evidence pack."""
