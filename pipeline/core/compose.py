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
    from hydra.errors import HydraException

    try:
        compose_and_dump(output, str(root / "conf"), None, "config", str(root), list(overrides or []))
    except HydraException as exc:  # a mistyped key or group: Hydra's own words, without the traceback
        raise ValueError(f"conf/ with overrides {' '.join(overrides or [])}: {exc}") from exc
    return output


if __name__ == "__main__":
    print(f"wrote {compose(sys.argv[1:])}")
