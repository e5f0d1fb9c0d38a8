"""A fake of AWS CodeDeploy: JSON 1.1 over HTTP, SigV4 checked, deployments that progress in time."""
