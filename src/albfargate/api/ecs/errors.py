"""ECS error codes and AWS's messages for them."""

from __future__ import annotations

from albfargate.api.errors import ApiError


def cluster_not_found() -> ApiError:
    return ApiError("ClusterNotFoundException", "Cluster not found.")


def service_not_found() -> ApiError:
    return ApiError("ServiceNotFoundException", "Service not found.")


def service_not_active() -> ApiError:
    return ApiError("ServiceNotActiveException", "Service was not ACTIVE.")


def invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


def client(message: str) -> ApiError:
    return ApiError("ClientException", message)
