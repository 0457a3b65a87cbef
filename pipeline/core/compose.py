"""Compose conf/ into params.yaml with DVC's own function, exactly as `dvc exp run` does."""
from __future__ import annotations

import sys
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

from pipeline.core.config import PARAMS_FILE, repo_root


def compose(overrides: list[str] | None = None, output: Path | None = None, root: Path | None = None) -> Path:
    """Write the composition of conf/config.yaml (with Hydra `overrides`) to `output`."""
    root = root or repo_root()
    output = output or root / PARAMS_FILE
    from hydra.errors import HydraException, OverrideParseException

    try:
        compose_and_dump(output, str(root / "conf"), None, "config", str(root), list(overrides or []))
    except HydraException as exc:  # a mistyped key or group: Hydra's own words, without the traceback
        words = "\n".join(line for line in str(exc).splitlines() if line.strip())
        if isinstance(exc, OverrideParseException) or "Error parsing override" in words:
            words += f"\n{QUOTING}"
        raise ValueError(f"conf/ with overrides {' '.join(overrides or [])}: {words}") from exc
    return output


# Hydra's grammar reads brackets, `$`, `=`, quotes and commas in a value as syntax (a column such as
# `LBMP ($/MWHr)` gives "Unknown function 'LBMP'"): what to type instead, in every command.
QUOTING = ("a value with brackets, $, commas, = or quotes must be quoted for Hydra inside the shell's quotes: "
           "'data.prices.price_column=\"LBMP ($/MWHr)\"' (the same in dvc exp run -S and python -m pipeline.optimize)")


if __name__ == "__main__":
    print(f"wrote {compose(sys.argv[1:])}")
