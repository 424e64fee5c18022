"""The ECS API (JSON 1.1): handlers, wire views, errors."""
