"""One use case per module: the only layer that sequences domain rules, the store and the ports."""
