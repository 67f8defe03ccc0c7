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
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin

from .errors import InputError

__all__ = ["REQUIRED", "Action", "Method", "Option", "Param", "Table", "method", "resolve", "typed"]


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
        hints = typing.get_type_hints(getattr(function, "func", function))  # a partial: its function's
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

    @classmethod
    def union(cls, family: str, *tables: Table) -> Table:
        """A table of every entry of ``tables`` (each stays in its own table): e.g. the classical inpainting
        methods and the model ones, which live in a higher layer, offered by one command."""
        joined: Table = cls(family)
        for table in tables:
            for entry in table._entries.values():
                joined.add(entry)
        return joined

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
        checked = {}
        for key, value in given.items():
            option = own.get(key)
            if option is None:
                # an entry that runs others of its table (an ensemble) names the members an option belongs to
                members = [m for m in getattr(entry, "info", {}).get("members", ()) if self.get(m).option(key)]
                if members:
                    raise InputError(
                        f"--{key.replace('_', '-')} is taken by {', '.join(members)} alone, not by the {self.family} "
                        f"{name!r} (it runs each member with its own default); to set it, use --{self.family} "
                        f"{members[0]}"
                    )
                takes = ", ".join(o.flag for o in own.values()) or "no options"
                users = [e.name for e, _ in self.options().get(key, [])]
                hint = f" (it applies to {', '.join(users)})" if users else ""
                raise InputError(
                    f"--{key.replace('_', '-')} does not apply to {self.family} {name!r}{hint}; {name} takes {takes}"
                )
            if value is not None and option.type is not str:  # text from a command line: one conversion, one message
                value = typed(option.type, value, option.flag)
            if option.choices and value is not None and value not in option.choices:
                raise InputError(f"{option.flag}: {value!r} is not one of {', '.join(map(str, option.choices))}")
            checked[key] = value
        return checked

    def help_text(self) -> str:
        """One line per entry: ``name: description``."""
        return "; ".join(f"{entry.name}: {entry.description}" for entry in self)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------------ actions
REQUIRED = inspect.Parameter.empty  # the default of a parameter the user must give

# what an action takes and makes, beyond plain values: the CLI reads them as paths or text, the studio shows an
# upload, an editor or the run chooser for each
KINDS = ("image", "mask", "folder", "clip", "run", "runs", "text", "npz", "bitstream", "json", "points", "path", "out")


def resolve(reference: str) -> Any:
    """``"package.module:NAME"`` -> the object, imported now (tables are read lazily, so listing the actions
    never imports torch)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Param:
    """One parameter of an action: the function's keyword ``name`` and what the CLI and the studio need to offer it.

    ``choices`` are values, or ``"module:TABLE"``: a method table whose names are the choices and (with
    ``options``) whose methods' options become parameters too, passed as keyword arguments (``options="**"``) or
    as one dict keyword (``options="defence_options"``), their flags prefixed by ``prefix``."""

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    kind: str | None = None
    choices: tuple | str = ()
    low: float | None = None
    high: float | None = None
    flag: str | None = None  # the CLI's spelling (default --name)
    positional: bool = False
    options: str | None = None
    prefix: str = ""
    convert: Callable[[str], Any] | None = None  # text -> value, for values that are not plain numbers (WxH)
    studio: bool = True  # False: a path on the server, which a browser must not name
    example: Any = None  # what the studio shows first: a bundled example's name for an image, else a value
    needs: frozenset[str] = frozenset()  # capabilities of the run that make this parameter mean something
    joined: str | None = None  # several table names in one value, joined by this ("shot+jpeg")
    multiple: bool = False  # given any number of times (the CLI repeats the flag; the studio takes one per line)
    # open choices: values offered (a tuple, or "module:NAME" of a table or a function giving them) where any
    # other value is allowed too (a dataset's name, or a spec such as folder:PATH)
    suggest: tuple | str = ()
    metavar: str | None = None  # what the CLI's help calls the value, where its kind or type does not say

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}; valid: {', '.join(KINDS)}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def table(self) -> Table | None:
        """The method table the choices come from (None for plain choices)."""
        found = resolve(self.choices) if isinstance(self.choices, str) else None
        return found if isinstance(found, Table) else None

    def values(self) -> tuple:
        """The allowed values, read from their table, function or tuple where referenced; () when any value goes."""
        return _listed(self.choices)

    def suggestions(self) -> tuple:
        """The values offered where any value is allowed (``suggest``)."""
        return _listed(self.suggest)

    def check(self, value: Any) -> Any:
        """``value`` converted to the parameter's type and checked against its choices and range; the one message
        for the CLI and the studio."""
        if self.multiple:  # a tuple of texts: from the CLI's repeated flag, or one per line from the studio
            given = value.splitlines() if isinstance(value, str) else (value or ())
            return tuple(str(item).strip() for item in given if str(item).strip()) or self.default
        if value is None or value == "":  # not given (an empty box in the studio)
            if self.required:
                raise InputError(f"{self.cli_flag}: give a value")
            return self.default
        if self.convert is not None and isinstance(value, str):
            return self.convert(value)
        table = self.table
        if table is not None:  # the table's own message for an unknown name
            names = str(value).split(self.joined) if self.joined else [value]
            for name in names:
                table.get(name)
            return value
        allowed = self.values()
        if allowed:
            match = next((choice for choice in allowed if str(choice) == str(value)), None)
            if match is None:
                raise InputError(f"{self.cli_flag}: {value!r} is not one of {', '.join(map(str, allowed))}")
            return match
        value = typed(self.type, value, self.cli_flag)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            kind = "an integer" if self.type is int else "a number"
            if self.low is not None and self.high is not None:
                bounds = f"from {self.low:g} to {self.high:g}"
            else:
                bounds = f">= {self.low:g}" if self.low is not None else f"<= {self.high:g}"
            raise InputError(f"{self.cli_flag} must be {kind} {bounds}, got {value!r}")
        return value


def _listed(reference: tuple | str) -> tuple:
    if not isinstance(reference, str):
        return tuple(reference)
    found = resolve(reference)
    if isinstance(found, Table):
        return found.names()
    return tuple(found() if callable(found) else found)


def typed(kind: type, value: Any, where: str) -> Any:
    """``value`` (text from a form or a command line, or already typed) as ``kind``; an ``InputError`` naming
    ``where`` when it is not one. The one conversion of the CLI, the studio and the method options."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise InputError(f"{where}: {value!r} is not true or false")
        return text in ("1", "true", "yes", "on")
    try:
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        return kind(value)
    except (TypeError, ValueError):
        described = {int: "a whole number", float: "a number"}.get(kind, kind.__name__)
        raise InputError(f"{where}: {value!r} is not {described}") from None


@dataclass(frozen=True)
class Action:
    """One thing a user does, declared once: the CLI command, the studio's controls and the docs are made from it,
    and the Python API is ``function`` itself (``target``, ``"package.module:function"``, imported when used).

    The function returns a path, a dict (``reports``: shown as JSON), a list of lines or None (nothing to say);
    the CLI prints each as it is. A ``name`` of two words ("features train") is a command of a group.
    ``needs`` are capabilities (``imsynth.models.capabilities``) a run must declare for the action to apply;
    ``groups`` are the studio's tab groups it appears in (none keeps it out of the studio)."""

    name: str
    target: str
    summary: str
    params: tuple[Param, ...]
    description: str = ""
    examples: tuple[str, ...] = ()
    reports: bool = False
    needs: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()
    button: str = ""
    studio_suffix: str = ".png"  # the file the studio asks the action to write

    @property
    def function(self) -> Callable:
        return resolve(self.target)

    def param(self, name: str) -> Param:
        return next(param for param in self.params if param.name == name)

    def defaults(self) -> dict[str, Any]:
        return {param.name: param.default for param in self.params if not param.required}

    def bind(self, values: dict[str, Any], options: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """Keyword arguments for ``function``: ``values`` (by parameter name; missing ones take their defaults)
        checked by the table, and each table parameter's method options (``options[param.name]``: the ones the user
        set) checked by that table against the chosen method."""
        unknown = set(values) - {param.name for param in self.params}
        if unknown:
            raise InputError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}")
        bound: dict[str, Any] = {}
        for param in self.params:
            value = param.check(values.get(param.name))
            bound[param.name] = value
            chosen = (options or {}).get(param.name) or {}
            if param.options is None or (not chosen and value is None):
                continue
            table = param.table
            checked = table.check_options(value, chosen) if value is not None else dict(chosen)
            if param.options == "**":
                bound.update(checked)
            else:
                bound[param.options] = checked
        return bound

    def command_line(self, values: dict[str, Any]) -> list[str]:
        """The words after ``imsynth`` that run this action with ``values`` (by parameter name; None, or a switch
        at its default, is left out, so the command takes its default)."""
        unknown = set(values) - {param.name for param in self.params}
        if unknown:
            raise InputError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}")
        positional, flags = [], []
        for param in self.params:
            value = values.get(param.name)
            if value is None or (param.multiple and not value):
                continue
            if param.positional:
                positional.append(str(value))
            elif param.type is bool:
                if bool(value) != bool(param.default):
                    flags.append(param.cli_flag if value else "--no-" + param.cli_flag[2:])
            else:
                for item in value if param.multiple else (value,):
                    flags += [param.cli_flag, str(item)]
        return [*self.name.split(), *positional, *flags]

    def __call__(self, **values):
        """Run the action from Python with the table's checks (method options as plain keywords)."""
        plain = {key: value for key, value in values.items() if key in {p.name for p in self.params}}
        rest = {key: value for key, value in values.items() if key not in plain}
        owner = next((p.name for p in self.params if p.options == "**"), None)
        if rest and owner is None:
            raise InputError(f"{self.name}: unknown parameter(s) {', '.join(sorted(rest))}")
        return self.function(**self.bind(plain, {owner: rest} if rest else None))
