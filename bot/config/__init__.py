"""Configuration: settings from the environment, the YAML policy file, logging and metrics."""
