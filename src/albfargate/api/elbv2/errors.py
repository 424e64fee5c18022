"""ELBv2 error codes (the short ``<Code>`` of ``<ErrorResponse>``) with AWS's messages."""

from __future__ import annotations

from albfargate.api.errors import ApiError


def lb_not_found() -> ApiError:
    return ApiError("LoadBalancerNotFound", "One or more load balancers not found")


def listener_not_found() -> ApiError:
    return ApiError("ListenerNotFound", "One or more listeners not found")


def rule_not_found() -> ApiError:
    return ApiError("RuleNotFound", "One or more rules not found")


def tg_not_found() -> ApiError:
    return ApiError("TargetGroupNotFound", "One or more target groups not found")


def invalid_target(message: str) -> ApiError:
    return ApiError("InvalidTarget", message)


def validation(message: str) -> ApiError:
    return ApiError("ValidationError", message)


def invalid_config(message: str) -> ApiError:
    return ApiError("InvalidConfigurationRequest", message)


def priority_in_use(priority: int) -> ApiError:
    return ApiError("PriorityInUse", f"Priority '{priority}' is currently in use")


def not_permitted(message: str) -> ApiError:
    return ApiError("OperationNotPermitted", message)


def invalid_action(message: str) -> ApiError:
    return ApiError("InvalidLoadBalancerAction", message)
