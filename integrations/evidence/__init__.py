"""Where evidence packs are kept: a directory, or S3 with Object Lock."""
