"""Generated attacks on the settings door: for every knob of every schema (pipeline/core/settings/),
in every option of its group, a value out of range, of the wrong type, or a key with a typo is
refused in lines naming the key, the value and what is allowed (or that the key is unknown):
never a traceback, never another exception, never silently accepted.

The oracle for a value is the knob's own annotation (pydantic, strict) in isolation: when that
refuses the value, the check must name the knob; when it accepts it, the check may still refuse it
by a rule across knobs (min below max), in the same one-line form.
"""
from __future__ import annotations

import copy
import re
import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from omegaconf import OmegaConf
from pydantic import BaseModel, TypeAdapter, ValidationError

from pipeline.core.compose import compose
from pipeline.core.settings.every import SECTIONS
from pipeline.core.settings.schema import (ConfigError, Instantiable, Section, _split_annotated, _strip_optional,
                                           check, dotted, field_type, show)
from tests.conftest import ROOT

# A base config per group option (the group's knobs differ by option: a file's column map, ...).
OPTIONS = [[], ["data/fault=file", "data.fault.path=/x.csv"], ["data/line=press_10s"],
           ["data/line=workbook", "data.line.path=/x.xlsx"], ["data/inventory=shared_sample"],
           ["data/prices=csv", "data.prices.path=/x.csv"], ["solver=auto"],
           ["optimize/plant=mixed", "optimize.parallel=ray", "optimize.plant_file=/x/plant.yaml"]]
KEY = r"(?:[\w-]+|\[[^\]]*\])(?:\.[\w-]+|\[(?:'[^']*'|\d+)\])*"
LINE = re.compile(rf"^params\.yaml: (?P<key>{KEY})( = (?P<value>.*))?: (?P<says>.+)$")


@cache
def base(i: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = compose(OPTIONS[i], output=Path(folder) / "params.yaml", root=ROOT)
        return OmegaConf.to_container(OmegaConf.load(out), resolve=True)


def section_data(data: dict, section: str):
    for name in section.split("."):
        data = data.get(name) if isinstance(data, dict) else None
    return data


def schema_at(section: str, loc: tuple):
    return field_type(SECTIONS[section], list(loc)) if loc else SECTIONS[section]


def named_keys(annotation) -> bool:
    """A mapping whose keys the schema names (a Section), not one of free names (chemicals, options)."""
    model = _split_annotated(_strip_optional(annotation))[0]
    return isinstance(model, type) and issubclass(model, Section) and not issubclass(model, Instantiable)


def walk(value, loc=()):
    """(loc, value) of every node below a section, the section itself first."""
    yield loc, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, (*loc, k))


def is_code(loc: tuple) -> bool:
    """`_target_` names code: not a knob to throw values at (the schema refuses unimportable ones)."""
    return bool(loc) and loc[-1] in ("_target_", "_partial_")


KNOBS = [(i, s, loc) for i in range(len(OPTIONS)) for s in SECTIONS
         for loc, v in walk(section_data(base(i), s)) if loc and not is_code(loc) and not (isinstance(v, dict) and v)]
DICTS = [(i, s, loc) for i in range(len(OPTIONS)) for s in SECTIONS
         for loc, v in walk(section_data(base(i), s)) if isinstance(v, dict) and v and named_keys(schema_at(s, loc))]


def numbers() -> st.SearchStrategy:
    return st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([0, -1, 1, 0.5, -0.0, 1e-12, 2**31, 65536, 70000, 10**9]))


def wrong_or_odd() -> st.SearchStrategy:
    scalars = st.one_of(numbers(), st.booleans(), st.none(), st.text(max_size=12), st.sampled_from(["???", "1", "true"]))
    return st.one_of(scalars, st.lists(scalars, max_size=3),
                     st.dictionaries(st.text(min_size=1, max_size=5), scalars, max_size=2))


def with_value(i: int, section: str, loc: tuple, value):
    """Section `section` of base(i), alone (a stage checks only its own sections), `loc` set to `value`."""
    holder = {"v": copy.deepcopy(section_data(base(i), section))}
    node, path = holder, ("v", *loc)
    for name in path[:-1]:
        node = node[name]
    node[path[-1]] = value
    cfg = OmegaConf.create({})
    OmegaConf.update(cfg, section, holder["v"], merge=False, force_add=True)
    return cfg, section


def lines(cfg_and_section) -> list[str]:
    cfg, section = cfg_and_section
    try:
        check(cfg, {section: SECTIONS[section]})
    except ConfigError as err:
        out = str(err).splitlines()
        for one in out:
            assert LINE.match(one), f"not one line naming key, value and what is allowed: {one!r}"
        return out
    return []


def accepted_alone(section: str, loc: tuple, value) -> bool:
    annotation = schema_at(section, loc)
    model = _split_annotated(_strip_optional(annotation))[0]
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            if value is None and annotation is not model:
                return True  # an optional sub-section
            model.model_validate(value)
        else:
            TypeAdapter(annotation, config=Section.model_config).validate_python(value)
        return True
    except ValidationError:
        return False


def keys_of(found: list[str]) -> list[str]:
    return [LINE.match(ln)["key"] for ln in found]


@given(case=st.sampled_from(KNOBS), value=wrong_or_odd())
def test_any_value_of_any_knob_is_refused_in_one_line_or_accepted(case, value):
    i, section, loc = case
    found = lines(with_value(i, section, loc, value))
    if not accepted_alone(section, loc, value):
        key = dotted(section, list(loc))
        assert any(k.startswith(key) for k in keys_of(found)), f"{key} = {show(value)} refused by its type, unnamed: {found}"


@given(case=st.sampled_from(KNOBS), data=st.data())
def test_a_number_just_outside_a_knobs_range_is_named_with_that_range(case, data):
    """Bounds of numeric knobs, probed from both sides at the edge and far away."""
    i, section, loc = case
    tp, metadata = _split_annotated(_strip_optional(schema_at(section, loc)))
    assume(tp in (int, float))
    edges = [getattr(m, name) for m in metadata for name in ("ge", "gt", "le", "lt") if hasattr(m, name)]
    assume(edges)
    edge = data.draw(st.sampled_from(edges))
    step = data.draw(st.sampled_from([1, 10**6] if tp is int else [1e-9, 0.5, 1e6]))
    key = dotted(section, list(loc))
    for value in (edge - step, edge + step):
        value = int(value) if tp is int else float(value)
        found = lines(with_value(i, section, loc, value))
        if not accepted_alone(section, loc, value):
            line = next((ln for ln in found if LINE.match(ln)["key"] == key), None)
            assert line and f"{key} = {show(value)}: allowed" in line, (key, value, found)


def typo(name: str, draw) -> str:
    edit = draw(st.sampled_from(["drop", "double", "swap", "case", "suffix"]))
    i = draw(st.integers(0, max(len(name) - 1, 0)))
    if edit == "drop" and len(name) > 1:
        return name[:i] + name[i + 1:]
    if edit == "double":
        return name[:i] + name[i] + name[i:]
    if edit == "swap" and len(name) > 1:
        i = min(i, len(name) - 2)
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if edit == "case":
        return name[:i] + name[i].swapcase() + name[i + 1:]
    return name + "s"


@given(case=st.sampled_from(DICTS), data=st.data())
def test_a_typo_in_any_key_is_an_unknown_key_naming_it(case, data):
    i, section, loc = case
    node = section_data(base(i), section)
    for name in loc:
        node = node[name]
    name = data.draw(st.sampled_from(sorted(node)))
    wrong = typo(str(name), data.draw)
    assume(wrong not in node and wrong.isidentifier())
    found = lines(with_value(i, section, loc, {(wrong if k == name else k): v for k, v in node.items()}))
    parent = dotted(section, list(loc))
    assert any(ln.startswith(f"params.yaml: {parent}.{wrong} = ") and "unknown key" in ln for ln in found), found
    model = _split_annotated(_strip_optional(schema_at(section, loc)))[0]
    field = next((f for n, f in model.model_fields.items() if (f.alias or n) == name), None)
    if field is not None and field.is_required():
        assert any(ln.startswith(f"params.yaml: {parent}.{name}: missing") for ln in found), found


@pytest.mark.parametrize("section", sorted(SECTIONS))
@pytest.mark.parametrize("value", [None, 5, "x", [1], {"a": 1}])
def test_a_section_of_the_wrong_shape_is_one_line(section, value):
    found = lines(with_value(0, section, (), value))
    if not accepted_alone(section, (), value):
        assert any(k.startswith(section) for k in keys_of(found)), found
