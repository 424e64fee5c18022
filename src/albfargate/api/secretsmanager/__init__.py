"""Secrets Manager (JSON 1.1, ``X-Amz-Target: secretsmanager.<Operation>``) over the local secret store."""
