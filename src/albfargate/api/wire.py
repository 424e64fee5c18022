"""Small helpers shared by the services' handlers: parameter reading with AWS's validation errors,
opaque pagination tokens, timestamps."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from albfargate.api.errors import ApiError

T = TypeVar("T")


@contextmanager
def shape_errors(code: str, what: str) -> Iterator[None]:
    """Parsing a request structure: a value of the wrong shape (a string where a structure belongs, a
    non-number where a number belongs...) is the client's error ``code``, not a server fault."""
    try:
        yield
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        raise ApiError(code, f"Invalid {what}: {type(exc).__name__}: {exc}"[:300]) from None


def optional_int(value: Any, name: str, code: str) -> int | None:
    """A number inside a request structure: None when absent or empty; the client's error ``code``
    ("<name> must be an integer") when it is not a number."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(code, f"{name} must be an integer") from None


def ts(epoch: float | None) -> datetime | None:
    """An epoch time as the ``datetime`` the protocol serializers format."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class Reader:
    """Typed access to request parameters; ``code`` is the service's validation error code."""

    def __init__(self, params: Mapping[str, Any], code: str) -> None:
        self.params = params
        self.code = code

    def fail(self, message: str) -> ApiError:
        return ApiError(self.code, message)

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.params.get(name)
        if value is None or (value == "" and required):
            if required:
                raise self.fail(
                    f"{name} is required"
                    if self.code != "ValidationError"
                    else f"1 validation error detected: Value null at '{_lower(name)}' failed to satisfy "
                    "constraint: Member must not be null"
                )
            return default
        if not isinstance(value, str):
            raise self.fail(f"{name} must be a string")
        return value

    def req(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(
        self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise self.fail(f"{name} must be an integer")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self.fail(f"{name} must be an integer") from None
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise self.fail(_range_message(self.code, name, number, lo, hi))
        return number

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(f"{name} must be a boolean")

    def items(self, name: str) -> list[Any]:
        value = self.params.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, dict) and not value:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{name} must be a list")
        return value

    def strs(self, name: str) -> list[str]:
        items = self.items(name)
        if not all(isinstance(x, str) for x in items):
            raise self.fail(f"{name} must be a list of strings")
        return items

    def struct(self, name: str) -> dict[str, Any] | None:
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise self.fail(f"{name} must be a structure")
        return value


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def _range_message(code: str, name: str, value: int, lo: int | None, hi: int | None) -> str:
    if code == "ValidationError":
        bound = (
            f"greater than or equal to {lo}"
            if lo is not None and value < lo
            else f"less than or equal to {hi}"
        )
        return (
            f"1 validation error detected: Value '{value}' at '{_lower(name)}' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    return (
        f"{name} must be between {lo} and {hi}." if lo is not None and hi is not None else f"Invalid {name}."
    )


def page(
    items: Sequence[T], token: str | None, size: int, code: str, token_name: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` from an opaque token (an offset, base64 JSON); returns the next token."""
    start = 0
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ApiError(code, f"Invalid {token_name}") from None
        if start < 0 or start > len(items):
            raise ApiError(code, f"Invalid {token_name}")
    chunk = list(items[start : start + size])
    end = start + size
    nxt = base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode() if end < len(items) else None
    return chunk, nxt
