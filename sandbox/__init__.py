"""Faithful fakes of the services rollbot talks to, reached over real HTTP, failing as the real ones fail."""
