"""AWS access: the only modules that talk to AWS (STS, IAM); errors mapped to ours."""
