"""What a resource converter sees: one resource of one stack, its properties resolved on demand, typed
accessors that report the property path on a wrong type, and deterministic CFN-style names.

Owns: :class:`ResourceContext`, :class:`Props`, :func:`generated_name`, :func:`physical_suffix`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from albfargate.errors import AssemblyError
from albfargate.model import ImageAsset, ids

from .intrinsics import NO_VALUE, IntrinsicError, to_text

if TYPE_CHECKING:
    from .loader import StackScope

_MISSING: Any = object()
_NAME_CHARS = re.compile(r"[^A-Za-z0-9-]+")


def location(stack: str, logical_id: str | None, path: str | None) -> str:
    """``stack S, resource R, property P`` -- the prefix of every assembly error message."""
    parts = [f"stack {stack}"]
    if logical_id:
        parts.append(f"resource {logical_id}")
    if path:
        parts.append(f"property {path}")
    return ", ".join(parts)


def physical_suffix(seed: str, length: int = 12) -> str:
    """The random-looking upper-case tail CloudFormation appends to generated names (deterministic)."""
    return ids.hex_id(seed, length).upper()


def generated_name(
    stack: str, logical_id: str, *, max_len: int = 32, prefix_len: int = 8, seed: str | None = None
) -> str:
    """A CloudFormation-style generated name ``<stack-prefix>-<logicalid-prefix>-<HASH>``: letters, digits
    and hyphens, at most ``max_len`` characters, never starting or ending with a hyphen. ``seed`` (the
    resource's seed with its replacement generation) gives a replacement its own hash."""
    stack_part = _NAME_CHARS.sub("", stack)[:prefix_len].strip("-")
    logical_part = _NAME_CHARS.sub("", logical_id)[:prefix_len].strip("-")
    tail = physical_suffix(seed or f"{stack}/{logical_id}")
    name = "-".join(p for p in (stack_part, logical_part, tail) if p)
    name = re.sub("-{2,}", "-", name)
    if name.lower().startswith("internal-"):
        name = name[len("internal-") :]
    return name[-max_len:].strip("-") if len(name) > max_len else name


_Str = str
_Int = int
_Bool = bool
_Float = float
_List = list


class Props:
    """Resolved property values under ``path`` with typed accessors. ``get`` resolves one key (so a
    resource's top-level properties are resolved only when read)."""

    def __init__(
        self,
        get: Callable[[_Str], Any],
        keys: Callable[[], _List[_Str]],
        path: _Str,
        fail: Callable[[_Str, _Str], AssemblyError],
    ) -> None:
        self._get = get
        self._keys = keys
        self.path = path
        self._fail = fail

    @classmethod
    def of(cls, data: Mapping[str, Any], path: _Str, fail: Callable[[_Str, _Str], AssemblyError]) -> Props:
        return cls(lambda k: data.get(k, _MISSING), lambda: list(data), path, fail)

    def at(self, key: _Str) -> _Str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: _Str | None, message: _Str) -> NoReturn:
        raise self._fail(self.at(key) if key else self.path, message)

    def keys(self) -> _List[_Str]:
        return self._keys()

    def has(self, key: _Str) -> _Bool:
        return self.raw(key) is not None

    def raw(self, key: _Str, default: Any = None) -> Any:
        value = self._get(key)
        if value is _MISSING or value is NO_VALUE or value is None:
            return default
        return value

    def str(self, key: _Str, default: _Str | None = None) -> _Str | None:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, dict | list):
            self.error(key, f"expected a string, got a {'list' if isinstance(value, list) else 'mapping'}")
        return to_text(value)

    def req_str(self, key: _Str) -> _Str:
        value = self.str(key)
        if value is None:
            self.error(key, "required property is missing")
        return value

    def int(self, key: _Str, default: _Int | None = None) -> _Int | None:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            self.error(key, f"expected a number, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            self.error(key, f"expected a number, got {value!r}")
        if not f.is_integer():
            self.error(key, f"expected a whole number, got {value!r}")
        return int(f)

    def req_int(self, key: _Str) -> _Int:
        value = self.int(key)
        if value is None:
            self.error(key, "required property is missing")
        return value

    def float(self, key: _Str, default: _Float | None = None) -> _Float | None:
        value = self.raw(key)
        if value is None:
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            self.error(key, f"expected a number, got {value!r}")

    def bool(self, key: _Str, default: _Bool | None = None) -> _Bool | None:
        value = self.raw(key)
        if value is None:
            return default
        return to_bool(value, lambda m: self.error(key, m))

    def list(self, key: _Str) -> _List[Any]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(key, "expected a list")
        return value

    def str_list(self, key: _Str) -> tuple[_Str, ...]:
        out = []
        for i, item in enumerate(self.list(key)):
            if isinstance(item, dict | list):
                self.error(f"{key}[{i}]", "expected a string")
            out.append(to_text(item))
        return tuple(out)

    def sub(self, key: _Str) -> Props | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(key, "expected a mapping")
        return Props.of(value, self.at(key), self._fail)

    def items(self, key: _Str) -> Iterator[Props]:
        for i, item in enumerate(self.list(key)):
            if not isinstance(item, dict):
                self.error(f"{key}[{i}]", "expected a mapping")
            yield Props.of(item, f"{self.at(key)}[{i}]", self._fail)

    def pairs(self, key: _Str, name: _Str = "Key", value: _Str = "Value") -> tuple[tuple[_Str, _Str], ...]:
        """``[{Key: k, Value: v}, ...]`` (or ``Name``/``Value``) as ordered pairs of strings."""
        out = []
        for item in self.items(key):
            out.append((item.req_str(name), item.str(value, "") or ""))
        return tuple(out)

    def mapping(self, key: _Str) -> tuple[tuple[_Str, _Str], ...]:
        """``{k: v}`` as ordered pairs of strings."""
        value = self.raw(key)
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.error(key, "expected a mapping")
        return tuple((str(k), to_text(v)) for k, v in value.items())


def to_bool(value: Any, fail: Callable[[str], NoReturn]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    fail(f"expected true or false, got {value!r}")


class ResourceContext:
    """One resource of one stack, as a converter sees it."""

    def __init__(
        self, scope: StackScope, logical_id: str, resource: Mapping[str, Any], *, seed_suffix: str = ""
    ) -> None:
        self.scope = scope
        self.stack = scope.stack
        self.logical_id = logical_id
        # a replacement made by a CloudFormation update gets new ids: the seed carries its generation
        self.seed_suffix = seed_suffix
        self.type = str(resource.get("Type", ""))
        raw = resource.get("Properties") or {}
        self.raw_properties: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
        self._resolved: dict[str, Any] = {}
        self.props = Props(self._prop, lambda: list(self.raw_properties), "Properties", self.fail)

    @property
    def seed(self) -> str:
        return f"{self.stack}/{self.logical_id}{self.seed_suffix}"

    def fail(self, path: str, message: str) -> AssemblyError:
        return AssemblyError(f"{location(self.stack, self.logical_id, path)}: {message}")

    def _prop(self, key: str) -> Any:
        if key in self._resolved:
            return self._resolved[key]
        if key not in self.raw_properties:
            return _MISSING
        try:
            value = self.scope.resolver.resolve(self.raw_properties[key], f"Properties.{key}")
        except IntrinsicError as exc:
            raise self.fail(exc.path, exc.message) from None
        self._resolved[key] = value
        return value

    def resolve_all(self) -> None:
        """Resolve every property (in template order), so a bad reference anywhere in an emulated
        resource is reported even when the converter does not read that property."""
        for key in self.raw_properties:
            self._prop(key)

    def resolved_properties(self) -> dict[str, Any]:
        """Every property with its intrinsics resolved; a property that resolves to ``AWS::NoValue`` is
        left out, as CloudFormation leaves it out."""
        out: dict[str, Any] = {}
        for key in self.raw_properties:
            value = self._prop(key)
            if value is not NO_VALUE and value is not _MISSING:
                out[key] = value
        return out

    def resolve(self, value: Any, path: str) -> Any:
        try:
            return self.scope.resolver.resolve(value, path)
        except IntrinsicError as exc:
            raise self.fail(exc.path, exc.message) from None

    def image_asset(self, image: str) -> ImageAsset | None:
        return self.scope.image_asset(image)
