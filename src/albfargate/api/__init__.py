"""The AWS-compatible local endpoint: ECS (JSON 1.1), ELBv2 (query/XML), Application Auto Scaling."""
