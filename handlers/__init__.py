"""Inbound adapters: everything that receives (Bolt listeners, Block Kit views, the Alertmanager and HTTP routes)."""
