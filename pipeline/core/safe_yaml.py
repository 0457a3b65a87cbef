"""YAML from outside, read with bounds: one reader for every description a user hands the
pipeline (a network's sidecar, a plant file), so none can make a reader grow without limit.

PyYAML's safe loader refuses Python tags but still has three ways to exhaust a machine with a
few hundred bytes: aliases that expand to billions of nodes once anything walks the result (a
"billion laughs": the values are shared, and the first repr, copy or OmegaConf node makes them
real), a scanner that is quadratic in the depth of flow brackets (20,000 `[` take a minute), and
a composer that recurses once per level. `read_yaml` refuses all three before the document is
built, with a DataValidationError that names the file and says what such a file normally holds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.core.validation import DataValidationError

_BRACKETS = re.compile(r"[\[\]{}]")
# libyaml's parser where PyYAML was built with it (the same events, nodes and values, some 15
# times faster: params.yaml's two checking passes 0.18 s -> 0.01 s, at every stage's start). Its
# composer recurses in C, so it runs only after _shallow has bounded the depth.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlBounds:
    """What one kind of description may be, and what it normally is (for the messages)."""
    what: str            # "a network's description"
    max_bytes: int
    max_nodes: int       # YAML nodes after alias expansion, counted on the node graph
    max_depth: int       # nested lists and mappings
    usual_size: str      # "a few hundred bytes"
    usual_nodes: str     # "about 50"


def read_yaml(path: str | Path, bounds: YamlBounds) -> Any:
    """The YAML document of `path` (an existing file), read within `bounds`: UTF-8, safe tags
    only, at most max_bytes, max_depth levels and max_nodes nodes once aliases are counted, no
    alias that refers to itself."""
    text = checked_text(path, bounds)
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise _invalid(Path(path), bounds, exc) from None


def checked_text(path: str | Path, bounds: YamlBounds) -> str:
    """The text of `path`, once read_yaml's bounds hold for it (for a reader that parses it with a
    loader of its own, such as OmegaConf's)."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(path, f"not a file: {bounds.what} is a YAML file")
    size = path.stat().st_size
    if size > bounds.max_bytes:
        raise DataValidationError(path, f"{size} bytes: {bounds.what} is {bounds.usual_size}; refused above "
                                        f"{bounds.max_bytes}")
    with path.open("rb") as fh:
        raw = fh.read(bounds.max_bytes + 1)
    try:
        text = raw.decode("utf-8")
        _shallow(text, path, bounds)  # before composing: PyYAML's composer recurses once per level
        _counted(yaml.compose(text, Loader=_LOADER), path, bounds)
        return text
    except UnicodeDecodeError as exc:
        raise DataValidationError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise _invalid(path, bounds, exc) from None
    except RecursionError:
        raise DataValidationError(path, f"nested too deeply to be {bounds.what}") from None


def _invalid(path: Path, bounds: YamlBounds, exc: yaml.YAMLError) -> DataValidationError:
    first = " ".join(str(exc).split())
    return DataValidationError(path, f"not valid YAML for {bounds.what} (safe tags only): {first[:300]}")


def _shallow(text: str, path: Path, bounds: YamlBounds) -> None:
    """Refuse YAML nested deeper than max_depth before PyYAML composes it. Brackets are counted
    wherever they stand, quoted or not (a description has no deep brackets, so over-counting
    refuses nothing real); block nesting from the parser's events."""
    depth = 0
    for bracket in _BRACKETS.findall(text):
        depth += 1 if bracket in "[{" else -1
        if depth > bounds.max_depth:
            break
    else:
        for item in yaml.parse(text, Loader=_LOADER):
            if isinstance(item, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > bounds.max_depth:
                    break
            elif isinstance(item, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        else:
            return
    raise DataValidationError(path, f"nested more than {bounds.max_depth} levels deep: not {bounds.what}")


def _counted(root, path: Path, bounds: YamlBounds) -> None:
    """Refuse a composed document whose aliases expand beyond max_nodes nodes or refer to
    themselves (counted on the node graph, never expanded)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise DataValidationError(path, f"a YAML alias refers to itself (a recursive structure): not {bounds.what}")
        open_nodes.add(key)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1
        open_nodes.discard(key)
        if total > bounds.max_nodes:
            raise DataValidationError(path, f"its YAML aliases expand to more than {bounds.max_nodes} nodes (a "
                                            f"\"billion laughs\"?): {bounds.what} has {bounds.usual_nodes}")
        sizes[key] = total
        return total

    if root is not None:
        size(root)
