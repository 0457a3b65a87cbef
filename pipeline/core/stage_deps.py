"""Each DVC stage's code deps, from the imports its entry point makes: one walk for `make deps`
(which writes them into dvc.yaml) and for tests/repo/test_dvc_deps.py (which checks dvc.yaml
against it and refuses an import of one stage's package by another).

A stage's modules: its `python -m <module> [<arg>]` entry (the package's __main__, and the
sub-module named by the first argument where one exists, as `pipeline.data <kind>` dispatches),
then everything they import, at any depth (function-level imports run too), plus strings that
name a pipeline module exactly (a Hydra callback `_target_`, the app a multirun launches).
Modules holding nothing but a docstring are no dep (editing their words changes no result).

    python -m pipeline.core.stage_deps           # rewrite each stage's code deps in dvc.yaml (make deps)
    python -m pipeline.core.stage_deps --check   # exit 1 naming each stage whose deps differ
    python -m pipeline.core.stage_deps --reruns  # which stages an edit of each pipeline/core file reruns
"""
from __future__ import annotations

import ast
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pipeline"
SHARED_ROOMS = (f"{PACKAGE}.core", f"{PACKAGE}.contracts")
MODULE_NAME = re.compile(rf"^{PACKAGE}(\.\w+)+$")


class ImportWalk:
    """The import graph of the `pipeline` package under `root` and the stages of its dvc.yaml."""

    def __init__(self, root: Path = ROOT):
        self.root = root
        self._trees: dict[str, ast.Module] = {}
        self._files: dict[str, Path | None] = {}
        self._imports: dict[str, tuple[tuple[str, int], ...]] = {}
        self._direct: dict[str, frozenset[str]] = {}

    def tree(self, name: str) -> ast.Module:
        if name not in self._trees:
            path = self.module_file(name)
            self._trees[name] = ast.parse(path.read_text(), str(path))
        return self._trees[name]

    def module_file(self, name: str) -> Path | None:
        if name not in self._files:
            base = self.root.joinpath(*name.split("."))
            self._files[name] = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
        return self._files[name]

    def longest_module(self, dotted: str) -> str | None:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            if self.module_file(".".join(parts[:end])):
                return ".".join(parts[:end])
        return None

    def import_statements(self, name: str) -> tuple[tuple[str, int], ...]:
        """(imported module, line) of every import statement of module `name` (pipeline modules only)."""
        if name not in self._imports:
            path = self.module_file(name)
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            found: list[tuple[str, int]] = []
            for node in ast.walk(self.tree(name)):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                        base = ".".join(parent + ([base] if base else []))
                    names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
                found += [(m, node.lineno) for n in names if n.split(".")[0] == PACKAGE and (m := self.longest_module(n))]
            self._imports[name] = tuple(dict.fromkeys(found))
        return self._imports[name]

    def direct_imports(self, name: str) -> frozenset[str]:
        """Modules `name` imports, or names exactly as a string (a module run with -m: its __main__)."""
        if name not in self._direct:
            found = {m for m, _ in self.import_statements(name)}
            for node in ast.walk(self.tree(name)):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.match(node.value):
                    found.update(m for n in (node.value, f"{node.value}.__main__") if (m := self.longest_module(n)))
            self._direct[name] = frozenset(found)
        return self._direct[name]

    def closure(self, entries: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = [p for e in entries for p in with_parents(e)]
        while todo:
            name = todo.pop()
            if name in seen or self.module_file(name) is None:
                continue
            seen.add(name)
            todo.extend(p for m in self.direct_imports(name) for p in with_parents(m))
        return seen

    def entry_modules(self, cmd: str) -> list[str]:
        words = shlex.split(cmd)
        if words[:2] != ["python", "-m"]:
            return []
        module = words[2]
        entries = [f"{module}.__main__" if self.module_file(f"{module}.__main__") else module]
        if len(words) > 3 and not words[3].startswith("-") and self.module_file(f"{module}.{words[3]}"):
            entries.append(f"{module}.{words[3]}")
        return entries

    def stages(self) -> dict[str, dict]:
        import yaml

        return yaml.load((self.root / "dvc.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["stages"]

    def code_deps(self, cmd: str) -> list[str]:
        """The files (relative to the repository) of every substantive module `cmd` runs."""
        modules = [m for m in self.closure(self.entry_modules(cmd)) if substantive(self.tree(m))]
        return sorted(self.module_file(m).relative_to(self.root).as_posix() for m in modules)

    def stage_packages(self) -> set[str]:
        """The package of each Python stage: `pipeline.<x>` of its -m, `pipeline.data.<kind>` of a prepare."""
        return {entry.removesuffix(".__main__") for stage in self.stages().values()
                for entry in self.entry_modules(stage["cmd"])}

    def cross_stage_imports(self) -> list[tuple[str, int, str, str]]:
        """(file, line, importer's stage package, imported module) of every import of one stage's
        package by another's. A package may import its own sub-packages (pipeline.data its kinds)."""
        packages = self.stage_packages()
        found = []
        for path in sorted((self.root / PACKAGE).rglob("*.py")):
            name = ".".join(path.relative_to(self.root).with_suffix("").parts).removesuffix(".__init__")
            mine = room(name, packages)
            if mine is None:
                continue
            for imported, line in self.import_statements(name):
                theirs = room(imported, packages)
                if theirs is not None and theirs != mine and not theirs.startswith(f"{mine}."):
                    found.append((path.relative_to(self.root).as_posix(), line, mine, imported))
        return found


def with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def substantive(tree: ast.Module) -> bool:
    """More than a docstring (and `from __future__`)."""
    body = tree.body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
               and not (isinstance(n, ast.ImportFrom) and n.module == "__future__") for n in body)


def is_code(dep: str) -> bool:
    return dep.split("/")[0] == PACKAGE


def room(module: str, packages: set[str]) -> str | None:
    """The stage package holding `module` (the longest that does), else the module itself; None
    for the shared rooms (core, contracts)."""
    if module.startswith(SHARED_ROOMS):
        return None
    holding = [p for p in packages if module == p or module.startswith(f"{p}.")]
    return max(holding, key=len) if holding else module


# ---- dvc.yaml -----------------------------------------------------------------------------------

def differences(walk: ImportWalk | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """stage -> (code deps missing from dvc.yaml, code deps dvc.yaml has that the stage does not run)."""
    walk = walk or ImportWalk()
    out = {}
    for name, stage in walk.stages().items():
        if not walk.entry_modules(stage["cmd"]):
            continue
        have = [str(d if isinstance(d, str) else next(iter(d))).rstrip("/") for d in stage.get("deps", [])]
        want = walk.code_deps(stage["cmd"])
        missing = [f for f in want if f not in have]
        superfluous = [d for d in have if is_code(d) and d not in want]
        if missing or superfluous:
            out[name] = (missing, superfluous)
    return out


def write_deps(walk: ImportWalk | None = None) -> list[str]:
    """Rewrite every Python stage's code deps in dvc.yaml (the others kept, after them, in their
    order; comments kept); returns the stages that changed."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    walk = walk or ImportWalk()
    path = walk.root / "dvc.yaml"
    doc = yaml.load(path.read_text())
    changed = []
    for name, stage in doc["stages"].items():
        if not walk.entry_modules(stage["cmd"]):
            continue
        old = stage.get("deps") or CommentedSeq()
        comments = {str(item): old.ca.items.get(i) for i, item in enumerate(old) if isinstance(item, str)}
        new = CommentedSeq(walk.code_deps(stage["cmd"]) + [d for d in old if not (isinstance(d, str) and is_code(d))])
        for i, item in enumerate(new):
            if isinstance(item, str) and comments.get(item):
                new.ca.items[i] = comments[item]
        if list(new) != list(old):
            changed.append(name)
            if old.ca.items.get(len(old) - 1) and not new.ca.items.get(len(new) - 1):
                new.ca.items[len(new) - 1] = old.ca.items[len(old) - 1]  # a comment line after the list
            stage["deps"] = new
    if changed:
        with path.open("w") as out:
            yaml.dump(doc, out)
    return changed


def reruns_table(walk: ImportWalk | None = None) -> str:
    """Markdown: each pipeline/core file and the stages whose deps hold it."""
    walk = walk or ImportWalk()
    deps = {name: set(walk.code_deps(stage["cmd"])) for name, stage in walk.stages().items()
            if walk.entry_modules(stage["cmd"])}
    core = sorted(p.relative_to(walk.root).as_posix() for p in (walk.root / PACKAGE / "core").rglob("*.py")
                  if substantive(ast.parse(p.read_text())))
    rows = ["| pipeline/core file | stages an edit reruns |", "|---|---|"]
    for f in core:
        names = [n for n, files in deps.items() if f in files]
        rows.append(f"| `{f.removeprefix('pipeline/core/')}` | {', '.join(names) or '(none: a command, not a stage)'} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if "--reruns" in argv:
        print(reruns_table())
        return 0
    if "--check" in argv:
        for name, (missing, superfluous) in differences().items():
            print(f"dvc.yaml stage '{name}': missing {missing}, superfluous {superfluous} (run `make deps`)")
        return 1 if differences() else 0
    changed = write_deps()
    print(f"dvc.yaml: code deps rewritten for {', '.join(changed)}" if changed else "dvc.yaml: code deps up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
