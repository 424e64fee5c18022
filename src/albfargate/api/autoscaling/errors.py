"""Application Auto Scaling error codes."""

from __future__ import annotations

from albfargate.api.errors import ApiError


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def not_found(message: str) -> ApiError:
    return ApiError("ObjectNotFoundException", message)
