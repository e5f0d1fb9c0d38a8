"""AWS CodeDeploy through boto3: stop with automatic rollback, or redeploy the last good revision."""
