"""The local Application Load Balancer: pure cores (rules, balancing, health, desync, responses) and
the asyncio shell (listeners, proxying, health checks, access logs, metrics)."""
