"""The local ECS / Fargate: task lifecycle, deployment planner, scheduler, autoscaling, task drivers."""
