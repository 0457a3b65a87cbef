"""Small, atomic writers for the files DVC tracks as metrics and plots."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; null is honest about it
    return value


def write_json(path: str | Path, data: dict) -> Path:
    """Write `data` as pretty JSON, atomically (a killed stage never leaves half a metrics file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(_clean(data), fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; metrics are for everyone who reads the repo
    os.replace(tmp, path)
    return path


def ensure_dir(path: str | Path) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path
