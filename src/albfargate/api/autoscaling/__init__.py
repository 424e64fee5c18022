"""The Application Auto Scaling API (JSON 1.1) for ECS services: handlers, views, errors."""
