"""Typed configs: dataclasses that round-trip through JSON and accept validated ``key=value`` overrides.

A config class's fields are its object's constructor arguments; ``Literal[...]`` fields list their allowed
values, so the CLI and studio can show choices and a wrong value gets an error naming the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from .errors import ConfigError, InputError

C = TypeVar("C")


def to_dict(config: Any) -> dict:
    """A config dataclass -> a plain JSON-able dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _field_types(cls: type) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def field_choices(cls: type, name: str) -> tuple | None:
    """The allowed values of a field: its ``Literal`` values, or the names of the table in its metadata
    (``field(metadata={"choices": TABLE})``, so a table's names are not copied into a ``Literal``)."""
    for field in dataclasses.fields(cls):
        if field.name == name:
            choices = field.metadata.get("choices")
            if choices is not None:
                return tuple(choices.names()) if hasattr(choices, "names") else tuple(choices)
            annotation = get_type_hints(cls)[name]
            return tuple(get_args(annotation)) if get_origin(annotation) is Literal else None
    return None


def _check_choices(cls: type, name: str, value: Any, where: str) -> Any:
    choices = field_choices(cls, name)
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}")
    return value


def from_dict(cls: type[C], data: dict, *, where: str = "config") -> C:
    """Build ``cls`` from a dict, checking every key and value type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
    types_by_name = _field_types(cls)
    unknown = sorted(set(data) - set(types_by_name))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(types_by_name)}")
    values = {
        name: _check_choices(cls, name, coerce(value, types_by_name[name], f"{where}.{name}"), f"{where}.{name}")
        for name, value in data.items()
    }
    return cls(**values)


def coerce(value: Any, annotation: Any, name: str) -> Any:
    """Check (and where lossless, convert) a JSON value against a type annotation."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(value, option, name)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{name}: {value!r} is not allowed")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{name}: expected {len(args)} values, got {len(value)}")
            return tuple(coerce(v, a, name) for v, a in zip(value, args))
        item = args[0] if args else Any
        converted = [coerce(v, item, name) for v in value]
        return tuple(converted) if origin is tuple else converted
    if annotation is Any:
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    if annotation is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected an object, got {value!r}")
        return value
    raise ConfigError(f"{name}: unsupported config type {annotation!r}")


def _allows_none(annotation: Any) -> bool:
    return get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in get_args(annotation)


def field_types(cls: type) -> dict[str, Any]:
    """A config dataclass's fields and their type annotations (resolved)."""
    return _field_types(cls)


def parse_value(text: str, annotation: Any = Any, name: str = "value") -> Any:
    """Parse the right-hand side of ``key=value`` for a field of type ``annotation``: JSON where it fits (numbers,
    true, [1, 2]), yes/no/on/off for booleans, none/null only where the field accepts None, else the text itself
    (so a string field keeps the string "none")."""
    lowered = text.strip().lower()
    if lowered in ("none", "null") and _allows_none(annotation):
        return None
    candidates: list[Any] = []
    try:
        candidates.append(json.loads(text))
    except json.JSONDecodeError:
        pass
    if lowered in ("true", "yes", "on", "false", "no", "off"):
        candidates.append(lowered in ("true", "yes", "on"))
    candidates.append(text)
    errors = []
    for candidate in candidates:
        try:
            return coerce(candidate, annotation, name)
        except ConfigError as error:
            errors.append(error)
    raise errors[0]


def apply_overrides(configs: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings to named configs (e.g. ``{"model": ..., "train": ...}``).

    ``section.key=value`` addresses one config; a bare ``key`` must name a field of exactly one of them. Every
    assignment is applied first and each config is validated once at the end, so settings that depend on each
    other can be given in any order. Returns new config objects; the inputs are not changed.
    """
    pending: dict[str, dict[str, Any]] = {name: {} for name in configs}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {assignment!r}: expected key=value")
        section, _, field_name = key.rpartition(".")
        if section:
            if section not in configs:
                raise ConfigError(f"--set {key}: unknown section {section!r}; valid: {', '.join(configs)}")
            owners = [section]
        else:
            owners = [name for name, cfg in configs.items() if field_name in _field_types(type(cfg))]
        if not owners:
            valid = sorted(f"{s}.{f}" for s, cfg in configs.items() for f in _field_types(type(cfg)))
            raise ConfigError(f"--set {key}: unknown key; valid: {', '.join(valid)}")
        if len(owners) > 1:
            raise ConfigError(f"--set {key}: ambiguous, use one of {', '.join(f'{o}.{field_name}' for o in owners)}")
        owner = owners[0]
        cls = type(configs[owner])
        types_by_name = _field_types(cls)
        if field_name not in types_by_name:
            raise ConfigError(f"--set {key}: unknown key; valid: {', '.join(f'{owner}.{f}' for f in types_by_name)}")
        value = parse_value(raw, types_by_name[field_name], f"--set {key}")
        pending[owner][field_name] = _check_choices(cls, field_name, value, f"--set {key}")
    return {name: dataclasses.replace(cfg, **pending[name]) if pending[name] else cfg for name, cfg in configs.items()}


def read_json_file(path: str | Path, what: str) -> Any:
    """A user's JSON file (``what`` names it in errors: "config file", "search-space file")."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not JSON ({error})") from None


def read_config_file(path: str | Path, model_name: str) -> list[str]:
    """The ``key=value`` assignments of a config file for ``imsynth train --config`` (JSON: ``{"model": NAME,
    "set": ["key=value", ...]}``, as ``imsynth tune`` writes best.json), checked to be for ``model_name``."""
    data = read_json_file(path, "config file")
    if not isinstance(data, dict) or not isinstance(data.get("set"), list):
        raise InputError(f'{path}: not a config file (expected {{"model": ..., "set": ["key=value", ...]}})')
    if data.get("model") not in (None, model_name):
        raise InputError(f"{path}: a config for model {data['model']}, not {model_name}")
    return [str(item) for item in data["set"]]
