"""SSM Parameter Store (JSON 1.1, ``X-Amz-Target: AmazonSSM.<Operation>``) over the local parameter store."""
