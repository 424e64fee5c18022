"""``wire.optional_int``: the one reading of a number inside a request structure, used by the ECS
(InvalidParameterException) and ELBv2 (ValidationError) handlers."""

from __future__ import annotations

import pytest

from albfargate.api.errors import ApiError
from albfargate.api.wire import optional_int


@pytest.mark.parametrize(("value", "out"), [(None, None), ("", None), (0, 0), ("42", 42), (7, 7), ("-3", -3)])
def test_numbers_and_absent(value: object, out: int | None) -> None:
    assert optional_int(value, "cpu", "InvalidParameterException") == out


@pytest.mark.parametrize("value", ["x", "1.5", [1], {"a": 1}, "  "])
@pytest.mark.parametrize("code", ["InvalidParameterException", "ValidationError"])
def test_not_a_number_is_the_callers_error(value: object, code: str) -> None:
    with pytest.raises(ApiError) as exc:
        optional_int(value, "stopTimeout", code)
    assert (exc.value.code, exc.value.message) == (code, "stopTimeout must be an integer")
