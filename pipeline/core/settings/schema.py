"""What every config group's schema is made of, and the one check a stage runs on its config.

Each group of conf/ has one file beside this one (`data_fault.py` for conf/data/fault, ...)
holding a pydantic model of its section: types, ranges and choices, strict about unknown keys,
so a typo is refused like a value out of range. A stage names the sections it reads
(`check(cfg, {"data.fault": DataFault, ...})`, done by pipeline/core/config.load_params) and gets
one line per problem, naming the key, the value and what is allowed:

    params.yaml: serve.port = 70000: allowed a whole number from 1 to 65535
    params.yaml: optimize.horizon_hourz = 24: unknown key (did you mean optimize.horizon_hours?)

Why pydantic rather than Hydra structured configs: docs/settings.md (measured there).
Adding a knob is one line in its group's model: `name: Annotated[type, Field(ge=.., le=..)] = default`.
"""
from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

import annotated_types as at
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

MISSING = "???"  # OmegaConf's mark of a value conf/ leaves for the user to set
_ABSENT = object()


class ConfigError(ValueError):
    """One or more settings outside what their schema allows; one line per problem."""

    def __init__(self, problems: list[str], source: str = "params.yaml"):
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


class Bad(ValueError):
    """Raised by a schema's cross-key rule: `key` (relative to the model) and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str, siblings: tuple[str, ...] = ()):
        self.key, self.value, self.allowed, self.siblings = key, value, allowed, siblings  # siblings: keys named in `allowed`
        super().__init__(f"{key} = {show(value)}: {allowed}")


class Section(BaseModel):
    """A config section: strict types (YAML says what it means: 5 is not "5", true is not 1),
    finite numbers, no key the model does not name."""
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True,
                              populate_by_name=True)


class Instantiable(Section):
    """A node built with hydra.utils.instantiate: `_target_` plus the target's keyword arguments.
    Any target may be named, so its arguments are checked against the target's own signature
    (a typo'd argument is an unknown key); subclasses add ranges for the default target's."""
    model_config = ConfigDict(extra="allow")
    target: str = Field(alias="_target_")
    partial: bool = Field(False, alias="_partial_")

    @model_validator(mode="after")
    def _arguments_exist(self) -> "Instantiable":
        accepted = target_arguments(self.target)
        if accepted is False:
            raise Bad("_target_", self.target, "allowed an importable class or function (module.Name)")
        if accepted is not None:
            for key, value in (self.model_extra or {}).items():
                if key not in accepted:
                    close = difflib.get_close_matches(key, accepted, n=1)
                    hint = f"did you mean {close[0]}?" if close else f"it takes {', '.join(sorted(accepted))}"
                    raise Bad(key, value, f"unknown argument of {self.target} ({hint})")
        return self


@cache
def target_arguments(target: str) -> frozenset[str] | None | bool:
    """The keyword arguments `target` accepts: None for any (it takes **kwargs, or its signature
    cannot be read), False when it cannot be imported."""
    import inspect

    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception:  # noqa: BLE001 - whatever importing it raised, it is not a target
        return False
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


# Shorthands for the ranges the groups use.
def whole(ge: int | None = None, le: int | None = None) -> Any:
    return Annotated[int, Field(ge=ge, le=le)]


def number(ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None) -> Any:
    return Annotated[float, Field(ge=ge, gt=gt, le=le, lt=lt)]


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Bad("", value, "allowed a text or a number")
    return value


Scalar = Annotated[Any, BeforeValidator(_scalar)]       # a text or a number (a value to compare with)
Fraction = Annotated[float, Field(ge=0, le=1)]          # 0..1 inclusive
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
Text = Annotated[str, Field(min_length=1)]


def pair(item: Any) -> Any:
    """A [low, high] list of two `item`s with low <= high."""
    return Annotated[list[item], Field(min_length=2, max_length=2), at.Predicate(_ordered)]


def _ordered(values: list) -> bool:
    return values[0] <= values[1]


class Ordered(Section):
    """A section whose knobs come in order: ORDER lists (low, high) pairs, low < high, or
    (low, high, False) for low <= high."""
    ORDER: ClassVar[tuple[tuple, ...]] = ()

    @model_validator(mode="after")
    def _in_order(self):
        for low, high, *strict in self.ORDER:
            lo, hi, strict = getattr(self, low), getattr(self, high), (strict or [True])[0]
            if lo is not None and hi is not None and (lo >= hi if strict else lo > hi):
                raise Bad(low, lo, f"allowed {'below' if strict else 'at most'} {high} = {show(hi)}", siblings=(high,))
        return self


def bounds(model: type[BaseModel], name: str) -> tuple[float | None, float | None, bool, str]:
    """(low, high, low_open, what is allowed in words) of the numeric knob `name` of `model`: for a
    reader that checks the same quantity in a file of its own (a plant's per-press keys) against
    the same range, in the same words."""
    info = model.model_fields[name]
    words = describe(Annotated[(info.annotation, *info.metadata)]) if info.metadata else describe(info.annotation)
    low = high = None
    low_open = False
    for rule in model.model_fields[name].metadata:
        if isinstance(rule, at.Ge):
            low = rule.ge
        elif isinstance(rule, at.Gt):
            low, low_open = rule.gt, True
        elif isinstance(rule, (at.Le, at.Lt)):
            high = rule.le if isinstance(rule, at.Le) else rule.lt
    return low, high, low_open, words


# ---- the check --------------------------------------------------------------------------------

def check(cfg: DictConfig, sections: Mapping[str, Any], source: str = "params.yaml") -> None:
    """Raise ConfigError naming every setting of `sections` (dotted key -> model or type) that
    its schema refuses; nothing when all are fine."""
    problems: list[str] = []
    for key, schema in sections.items():
        try:
            data = _plain(OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=False))
        except OmegaConfBaseException as exc:
            problems.append(f"{getattr(exc, 'full_key', None) or key}: {str(exc).splitlines()[0]}")
            continue
        if data is _ABSENT:
            problems.append(f"{key}: missing; allowed {describe(schema)}")
            continue
        problems += [f"{dotted(key, loc)} = ???: not set (conf/ leaves it for you to set)" for loc in _unset(data)]
        try:
            _adapter(schema).validate_python(data)
        except ValidationError as exc:
            problems += [line(key, schema, err) for err in exc.errors(include_url=False)]
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)), source)


def _unset(data: Any, loc: tuple = ()) -> list[list]:
    """Where `data` holds OmegaConf's ??? (a value conf/ leaves to the user)."""
    if isinstance(data, str) and data == MISSING:
        return [list(loc)]
    if isinstance(data, dict):
        return [found for name, v in data.items() for found in _unset(v, (*loc, name))]
    if isinstance(data, list):
        return [found for i, v in enumerate(data) for found in _unset(v, (*loc, i))]
    return []


def _plain(node):
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
    return node


@cache
def _adapter(schema: Any) -> TypeAdapter:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return TypeAdapter(schema)
    return TypeAdapter(schema, config=Section.model_config)  # a bare type (the seed): as strict as a section


def line(section: str, schema: Any, err: dict) -> str:
    """One pydantic error as `<key> = <value>: <what is allowed>`."""
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, Bad):
        key = dotted(section, [*loc, *filter(None, cause.key.split("."))])
        allowed = cause.allowed
        for sibling in cause.siblings:
            allowed = allowed.replace(f"{sibling} =", f"{key.rpartition('.')[0]}.{sibling} =", 1)
        return f"{key} = {show(cause.value)}: {allowed}"
    key = dotted(section, loc)
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"{key} = {show(value)}: unknown key{_did_you_mean(section, schema, loc)}"
    if err["type"] == "missing":
        return f"{key}: missing; allowed {describe(field_type(schema, loc))}"
    return f"{key} = {show(value)}: allowed {describe(field_type(schema, loc))}"


def dotted(section: str, loc: list) -> str:
    """`section.key[0].key`; a name that is no identifier in brackets: actuators['Massflow PD 1']."""
    out = section
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).replace("-", "_").isidentifier():
            out += f".{part}"
        else:
            out += f"[{show(str(part))}]"
    return out


def show(value: Any) -> str:
    """A value as one short line: texts quoted, control characters escaped, at most 80 characters."""
    text = repr(value) if isinstance(value, str) else _yamlish(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= 80 else text[:77] + "..."


def _yamlish(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan")
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k if isinstance(k, str) and k.isidentifier() else show(k)}: {show(v)}"
                               for k, v in value.items()) + "}"
    return str(value)


def _did_you_mean(section: str, schema: Any, loc: list) -> str:
    parent = field_type(schema, loc[:-1])
    names = sorted(_field_names(_split_annotated(_strip_optional(parent))[0]))
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    if close:
        return f" (did you mean {dotted(section, [*loc[:-1], close[0]])}?)"
    return f" (allowed keys: {', '.join(names)})" if names else ""


def _field_names(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return []


# ---- describing what a field allows -------------------------------------------------------------

def field_type(schema: Any, loc: list) -> Any:
    """The annotation (with its constraints) at `loc` inside `schema`."""
    current = schema
    for part in loc:
        current = _strip_optional(current)
        base, _ = _split_annotated(current)
        if isinstance(base, type) and issubclass(base, BaseModel):
            fields = {f.alias or n: f for n, f in base.model_fields.items()}
            field = fields.get(part)
            if field is None:
                return Any
            current = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        elif typing.get_origin(base) in (list, dict):
            args = typing.get_args(base)
            current = args[-1] if args else Any
        else:
            return Any
    return current


def _split_annotated(tp: Any) -> tuple[Any, list]:
    metadata: list = []
    while typing.get_origin(tp) is Annotated:
        args = typing.get_args(tp)
        tp, extra = args[0], list(args[1:])
        for m in extra:
            metadata += list(m.metadata) if hasattr(m, "metadata") and hasattr(m, "annotation") else [m]
    return tp, metadata


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def describe(tp: Any) -> str:
    """What a value of annotation `tp` may be, in words."""
    tp, metadata = _split_annotated(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        rest = [a for a in args if a is not type(None)]
        text = " or ".join(describe(a) for a in rest)
        return text + (" or null" if len(rest) < len(args) else "")
    if origin is Literal:
        return "one of " + ", ".join(_yamlish(v) for v in typing.get_args(tp))
    bounds = _bounds(metadata)
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return f"{_size(metadata)} of {_plural(describe(item))}"
    if origin is dict:
        args = typing.get_args(tp)
        return f"a mapping of names to {_plural(describe(args[1]))}" if args else "a mapping"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a mapping with keys " + ", ".join(_field_names(tp))
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number" + bounds
    if tp is float:
        return "a number" + bounds
    if tp is str:
        return "a text" + (" (not empty)" if _size(metadata) else "")
    return "a value of its schema" if tp is Any else getattr(tp, "__name__", str(tp))


def _plural(text: str) -> str:
    for one, many in (("a whole number", "whole numbers"), ("a number", "numbers"), ("a text", "texts"),
                      ("a mapping", "mappings"), ("a list", "lists"), ("one of", "each one of")):
        if text.startswith(one):
            return many + text[len(one):]
    return text


def _bounds(metadata: list) -> str:
    lo = hi = None
    for m in metadata:
        if isinstance(m, at.Ge):
            lo = f">= {_num(m.ge)}"
        elif isinstance(m, at.Gt):
            lo = f"> {_num(m.gt)}"
        elif isinstance(m, at.Le):
            hi = f"<= {_num(m.le)}"
        elif isinstance(m, at.Lt):
            hi = f"< {_num(m.lt)}"
    if lo and hi:
        both_inclusive = lo.startswith(">=") and hi.startswith("<=")
        return f" from {lo[3:]} to {hi[3:]}" if both_inclusive else f" {lo} and {hi}"
    return f" {lo or hi}" if lo or hi else ""


def _size(metadata: list) -> str:
    """How long a list may be, as the start of its description."""
    lo = next((m.min_length for m in metadata if isinstance(m, at.MinLen)), None)
    hi = next((m.max_length for m in metadata if isinstance(m, at.MaxLen)), None)
    if any(isinstance(m, at.Predicate) and m.func is _ordered for m in metadata):
        return "[low, high] (low <= high)"
    if lo and hi and lo == hi:
        return f"a list of exactly {lo}"
    if lo and hi:
        return f"a list of {lo} to {hi}"
    if lo:
        return "a non-empty list" if lo == 1 else f"a list of at least {lo}"
    return "a list"


def _num(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
