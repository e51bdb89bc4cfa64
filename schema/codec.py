"""Plain-data encoding of the domain dataclasses.

The canonical JSON form of a passport is what events carry, what snapshots
store and what the hash chain covers, so it must be stable: datetimes as UTC
ISO 8601 with `Z`, dates as ISO dates, enums by member name, `None` kept.
Converters are compiled once per class from its type hints, as generated
straight-line Python: one dict display to encode, one constructor call to decode.
The decoder takes a fast way that only notices *that* data is wrong, then reruns
the checked way, which says where and why.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")
Converter = Callable[[Any], Any]


class DecodeError(ValueError):
    """Plain data does not fit the dataclass it is decoded into."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path
        self.message = message


def format_datetime(value: datetime) -> str:
    if value.tzinfo is UTC:  # every parsed time; `isoformat` ends in +00:00
        return value.isoformat()[:-6] + "Z"
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:05:30+05:30 is before year 1 in UTC: no datetime holds it
        raise ValueError(f"time {text!r} is out of range in UTC") from None


def to_plain(obj: Any) -> Any:
    """Encode a dataclass instance (or list, enum, time) as JSON-ready data."""
    return _encoder(type(obj))(obj)  # type: ignore[arg-type]  # a class is hashable; mypy's type[T] is not


def from_plain(cls: type[T], data: Any) -> T:
    """Decode plain data into `cls`, raising `DecodeError` naming the JSON path."""
    return _decoder(cls)(data, "")  # type: ignore[arg-type]  # a class is hashable; mypy's type[T] is not


@cache
def _encoder(tp: Any) -> Converter:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _generated_encoder(tp)
    return _encoder_for_hint(tp)


def _generated_encoder(tp: type) -> Converter:
    names: dict[str, Any] = {}
    items = [f"{f.name!r}: {_encode_expr(h, f'obj.{f.name}', 0, names)}" for f, h in _fields(tp)]
    return _function(f"encode_{tp.__name__}", "obj", [f"return {{{', '.join(items)}}}"], names)


def _encode_expr(hint: Any, value: str, depth: int, names: dict[str, Any]) -> str:
    """Source encoding `value` (an expression read once) as `_encoder_for_hint` would."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    var = f"v{depth}"
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in args if a is not type(None))
        body = _encode_expr(inner, var, depth + 1, names)
        return f"(None if ({var} := {value}) is None else {body})"
    if origin is list:
        return f"[{_encode_expr(args[0], var, depth + 1, names)} for {var} in {value}]"
    if origin is dict:
        return f"dict({value})"
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            if _inlined(hint):  # a dict display in the parent's source, as for decoding
                return _inline_encode(hint, value, depth, names)
            return f"{_name(names, _encoder(hint))}({value})"
        if issubclass(hint, enum.Enum):
            return f"{value}.name"
        if issubclass(hint, datetime):
            return f"{_name(names, format_datetime)}({value})"
        if issubclass(hint, date):
            return f"{_name(names, date.isoformat)}({value})"
    return value


def _inline_encode(tp: type, value: str, depth: int, names: dict[str, Any]) -> str:
    """Source of `tp`'s dict display for `value`, read once (a dict display runs in order)."""
    var, items = f"v{depth}", []
    for index, (f, hint) in enumerate(_fields(tp)):
        base = value if value.isidentifier() else (f"({var} := {value})" if index == 0 else var)
        items.append(f"{f.name!r}: {_encode_expr(hint, f'{base}.{f.name}', depth + 1, names)}")
    return f"{{{', '.join(items)}}}"


def _name(names: dict[str, Any], obj: Any) -> str:
    name = f"_c{len(names)}"
    names[name] = obj
    return name


def _function(name: str, params: str, body: list[str], names: dict[str, Any]) -> Any:
    """Compile generated source once; `names` are its globals."""
    source = f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body)
    scope: dict[str, Any] = {}
    exec(compile(source, f"<codec {name}>", "exec"), names, scope)
    return scope[name]


def _encoder_for_hint(hint: Any) -> Converter:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _encoder_for_hint(next(a for a in args if a is not type(None)))
        return lambda v: None if v is None else inner(v)
    if origin is list:
        item = _encoder_for_hint(args[0])
        return lambda v: [item(x) for x in v]
    if origin is dict:
        return dict
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return lambda v: _encoder(hint)(v)
        if issubclass(hint, enum.Enum):
            return lambda v: v.name
        if issubclass(hint, datetime):
            return format_datetime
        if issubclass(hint, date):
            return date.isoformat
    return lambda v: v


@cache
def _decoder(tp: Any) -> Callable[[Any, str], Any]:
    if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return _decoder_for_hint(tp)
    return _generated_decoder(tp, _checked_decoder(tp))


def _checked_decoder(tp: type) -> Callable[[Any, str], Any]:
    fields = [(f.name, _decoder_for_hint(h), _has_default(f)) for f, h in _fields(tp)]
    names = {name for name, _, _ in fields}

    def decode(data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            raise DecodeError(path, f"expected an object for {tp.__name__}")
        unknown = data.keys() - names
        if unknown:
            raise DecodeError(path, f"unknown field {sorted(unknown)[0]!r} in {tp.__name__}")
        kwargs = {}
        for name, dec, optional in fields:
            if name in data:
                kwargs[name] = dec(data[name], f"{path}/{name}")
            elif not optional:
                raise DecodeError(path, f"missing required field {name!r} of {tp.__name__}")
        return tp(**kwargs)

    return decode


_FAILED = (KeyError, TypeError, ValueError, AttributeError)


def _generated_decoder(tp: type, checked: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """Decode without building a path per field; on any failure, rerun `checked`."""
    names: dict[str, Any] = {"_tp": tp, "_checked": checked, "_failed": _FAILED, "_bad": _bad}
    names["_fields"] = frozenset(f.name for f in dataclasses.fields(tp))
    names["_numbers"] = (int, float)
    required, optional = [], []
    for f, hint in _fields(tp):
        expr = _decode_expr(hint, f"data[{f.name!r}]", 0, names)
        if _has_default(f):
            optional += [f"if {f.name!r} in data:", f"    kw[{f.name!r}] = {expr}"]
        else:
            required.append(expr)  # positional: a dataclass's required fields come first
    call = ", ".join([*required, "**kw"] if optional else required)
    body = [
        "if data.__class__ is not dict or not data.keys() <= _fields:",
        "    return _checked(data, path)",
        "try:",
        *(["    kw = {}"] + [f"    {line}" for line in optional] if optional else []),
        f"    return _tp({call})",
        "except _failed:",
        "    return _checked(data, path)",
    ]
    return _function(f"decode_{tp.__name__}", "data, path", body, names)


def _bad() -> Any:
    raise ValueError("not of its type")


def _decode_expr(hint: Any, value: str, depth: int, names: dict[str, Any]) -> str:
    """Source decoding `value` that accepts what `_decoder_for_hint` accepts, else raises."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    var = f"v{depth}"
    if origin in (typing.Union, types.UnionType):
        inner = next(a for a in args if a is not type(None))
        body = _decode_expr(inner, var, depth + 1, names)
        return f"(None if ({var} := {value}) is None else {body})"
    if origin is list:
        item = _decode_expr(args[0], f"{var}i", depth + 1, names)
        return f"([{item} for {var}i in {var}] if ({var} := {value}).__class__ is list else _bad())"
    if origin is dict:
        return f"({var} if isinstance({var} := {value}, dict) else _bad())"
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            if _inlined(hint):
                return _inline_expr(hint, value, depth, names)
            return f"{_name(names, _decoder(hint))}({value}, '')"
        if issubclass(hint, enum.Enum):
            return f"{_name(names, hint)}[{value}]"
        if issubclass(hint, datetime):
            return f"{_name(names, parse_datetime)}({value})"
        if issubclass(hint, date):
            return f"{_name(names, date.fromisoformat)}({value})"
        if hint is float:  # as `_number`: an int or a float (not a bool), as a float
            return f"(float({var}) if ({var} := {value}).__class__ in _numbers else _bad())"
        if hint is int:  # as `_integer`; a subclass takes the checked way, which keeps it
            return f"({var} if ({var} := {value}).__class__ is int else _bad())"
        if hint in (str, bool):
            kind = _name(names, hint)
            return f"({var} if isinstance({var} := {value}, {kind}) else _bad())"
    raise TypeError(f"no decoder for {hint!r}")


def _inlined(tp: type) -> bool:
    """Whether a nested dataclass is decoded in its parent's source rather than by a call:
    one with only required fields (joint-wear readings, sensors), where the call, its
    checks and its keyword arguments cost more than building the object."""
    return all(not _has_default(f) for f in dataclasses.fields(tp))


def _inline_expr(tp: type, value: str, depth: int, names: dict[str, Any]) -> str:
    """Source building `tp` from `value` as its generated decoder does, failing alike."""
    var = f"v{depth}"
    fields = _fields(tp)
    args = [_decode_expr(h, f"{var}[{f.name!r}]", depth + 1, names) for f, h in fields]
    build = f"{_name(names, tp)}({', '.join(args)})"
    # Every field is read (a missing one raises KeyError), so as many keys as fields
    # means no unknown one: the count stands for comparing the key sets.
    count = len(fields)
    return (
        f"({build} if ({var} := {value}).__class__ is dict and len({var}) == {count} else _bad())"
    )


def _decoder_for_hint(hint: Any) -> Callable[[Any, str], Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _decoder_for_hint(next(a for a in args if a is not type(None)))
        return lambda v, p: None if v is None else inner(v, p)
    if origin is list:
        item = _decoder_for_hint(args[0])

        def decode_list(v: Any, p: str) -> list[Any]:
            if not isinstance(v, list):
                raise DecodeError(p, "expected an array")
            return [item(x, f"{p}/{i}") for i, x in enumerate(v)]

        return decode_list
    if origin is dict:
        return _checked(dict, "an object")
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return lambda v, p: _decoder(hint)(v, p)
        if issubclass(hint, enum.Enum):
            return _enum_decoder(hint)
        if issubclass(hint, datetime):
            return _parsed(parse_datetime, "a date-time with offset")
        if issubclass(hint, date):
            return _parsed(date.fromisoformat, "an ISO date")
        if hint is float:
            return _number
        if hint is bool:
            return _checked(bool, "a boolean")
        if hint is int:
            return _integer
        if hint is str:
            return _checked(str, "a string")
    raise TypeError(f"no decoder for {hint!r}")


def _checked(tp: type, what: str) -> Callable[[Any, str], Any]:
    def decode(v: Any, p: str) -> Any:
        if not isinstance(v, tp):
            raise DecodeError(p, f"expected {what}")
        return v

    return decode


def _parsed(parse: Callable[[str], Any], what: str) -> Callable[[Any, str], Any]:
    def decode(v: Any, p: str) -> Any:
        try:
            return parse(v)
        except (TypeError, ValueError):
            raise DecodeError(p, f"expected {what}, got {v!r}") from None

    return decode


def _enum_decoder(tp: type[enum.Enum]) -> Callable[[Any, str], Any]:
    def decode(v: Any, p: str) -> Any:
        try:
            return tp[v]
        except (KeyError, TypeError):
            allowed = ", ".join(tp.__members__)
            raise DecodeError(p, f"{v!r} is not one of {allowed}") from None

    return decode


def _number(v: Any, p: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DecodeError(p, "expected a number")
    return float(v)


def _integer(v: Any, p: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise DecodeError(p, "expected an integer")
    return v


def _fields(cls: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
