"""One table per method family: the single place a method's name is written.

A ``Table`` maps names to entries; each entry has a ``name``, a one-line ``description`` and its public
``options`` (name, type, default, help, choices). Library calls look methods up here (an unknown name is an
``InputError`` listing the valid ones, from Python as from the command line), and the CLI and the studio build
their choices, ``--help`` text and per-method options from the same tables. Families: models, datasets,
inpainting, warps, texture, resampling, morphs, GAN losses, diffusion samplers.

Options are read from the function's signature (type from its annotation, default from its default), so a
default is written once, in the function; the table adds only the help text.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from .errors import InputError

__all__ = ["Method", "Option", "Table", "method"]


@dataclass(frozen=True)
class Option:
    """One public option of a method: what the CLI turns into ``--name`` and the studio into a control."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple = ()
    optional: bool = False  # None is a valid value ("not given")
    path: bool = False  # names a file on the machine: the CLI takes it, a web front end must not

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Method:
    """A table entry that is a function: ``function(*inputs, **options)``."""

    name: str
    function: Callable
    description: str
    options: tuple[Option, ...] = ()
    needs: tuple[str, ...] = ()  # inputs beyond the image the method requires (e.g. "model", "points")
    tags: frozenset[str] = field(default_factory=frozenset)  # for Table.names(tag=...); includes ``needs``
    info: dict[str, Any] = field(default_factory=dict)  # family-specific facts (a warp's minimum points, ...)

    def option(self, name: str) -> Option | None:
        return next((option for option in self.options if option.name == name), None)

    def __call__(self, *args, **options):
        return self.function(*args, **options)


def _describe_type(annotation: Any, default: Any) -> tuple[type, tuple, bool]:
    """(python type, choices, optional) of a parameter annotation."""
    origin, args = get_origin(annotation), get_args(annotation)
    optional = default is None
    if origin in (typing.Union, types.UnionType):
        optional = optional or type(None) in args
        rest = [a for a in args if a is not type(None)]
        annotation = rest[0] if len(rest) == 1 else Any
        origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return type(args[0]), tuple(args), optional
    if annotation in (int, float, str, bool):
        return annotation, (), optional
    if default is not None and type(default) in (int, float, str, bool):
        return type(default), (), optional
    return str, (), optional


def method(
    name: str,
    function: Callable,
    description: str,
    *,
    options: dict[str, str | tuple[str, tuple]] | None = None,
    needs: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    info: dict[str, Any] | None = None,
    paths: tuple[str, ...] = (),
    **bound,
) -> Method:
    """A ``Method`` whose options (``name -> help`` or ``name -> (help, choices)``) take their types and defaults
    from ``function``'s signature; ``bound`` keyword arguments are fixed (e.g. one function, several methods);
    ``paths`` names the options whose value is a file path."""
    signature = inspect.signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # a compiled or partial function: fall back to the defaults' types
        hints = {}
    declared = []
    for option_name, spec in (options or {}).items():
        help_text, choices = (spec, ()) if isinstance(spec, str) else spec
        parameter = signature.parameters.get(option_name)
        if parameter is None or parameter.default is inspect.Parameter.empty:
            raise TypeError(f"{function.__qualname__} has no keyword option {option_name!r} with a default")
        kind, literal, optional = _describe_type(hints.get(option_name, Any), parameter.default)
        declared.append(
            Option(
                option_name,
                kind,
                parameter.default,
                help_text,
                tuple(choices) or literal,
                optional,
                option_name in paths,
            )
        )
    target = functools.partial(function, **bound) if bound else function
    return Method(
        name, target, description, tuple(declared), tuple(needs), frozenset(tags) | frozenset(needs), dict(info or {})
    )


E = TypeVar("E")


class Table(Generic[E]):
    """Named entries of one family. Entries need ``name`` and ``description``; ``options`` where they have any."""

    def __init__(self, family: str, *, sort: bool = False) -> None:
        self.family = family
        self.sort = sort  # list names alphabetically (else in the order they were added)
        self._entries: dict[str, E] = {}

    def add(self, entry: E) -> E:
        name = entry.name  # type: ignore[attr-defined]
        if name in self._entries:
            raise ValueError(f"{self.family} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> E:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise InputError(f"unknown {self.family} {name!r}; valid: {', '.join(self.names())}") from None

    def names(self, *, tag: str | None = None) -> tuple[str, ...]:
        names = [name for name, entry in self._entries.items() if tag is None or tag in getattr(entry, "tags", ())]
        return tuple(sorted(names) if self.sort else names)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter([self._entries[name] for name in self.names()])

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return [(name, self._entries[name]) for name in self.names()]

    def options(self) -> dict[str, list[tuple[E, Option]]]:
        """Every option name in the family, with the entries that take it (for the CLI's option list)."""
        found: dict[str, list[tuple[E, Option]]] = {}
        for entry in self._entries.values():
            for option in getattr(entry, "options", ()):
                found.setdefault(option.name, []).append((entry, option))
        return found

    def check_options(self, name: str, given: dict[str, Any]) -> dict[str, Any]:
        """Refuse options that ``name`` does not take (naming the ones it does) and values outside their choices."""
        entry = self.get(name)
        own = {option.name: option for option in getattr(entry, "options", ())}
        for key, value in given.items():
            option = own.get(key)
            if option is None:
                takes = ", ".join(o.flag for o in own.values()) or "no options"
                users = [e.name for e, _ in self.options().get(key, [])]
                hint = f" (it applies to {', '.join(users)})" if users else ""
                raise InputError(
                    f"--{key.replace('_', '-')} does not apply to {self.family} {name!r}{hint}; {name} takes {takes}"
                )
            if option.choices and value is not None and value not in option.choices:
                raise InputError(f"{option.flag}: {value!r} is not one of {', '.join(map(str, option.choices))}")
        return dict(given)

    def help_text(self) -> str:
        """One line per entry: ``name: description``."""
        return "; ".join(f"{entry.name}: {entry.description}" for entry in self)  # type: ignore[attr-defined]
