"""The composition root: settings to store to adapters to use cases to the Bolt app and HTTP."""
