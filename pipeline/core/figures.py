"""The one way a stage saves a figure: a PNG with its caption stored in the file (PNG text chunk
`Description`), which the report page (pipeline/report) prints under the image."""
from __future__ import annotations

from pathlib import Path

CAPTION_KEY = "Description"


def save_figure(fig, path: str | Path, caption: str, dpi: int = 110) -> Path:
    """Write `fig` to `path` (folders created) with `caption`, then close it. One sentence that
    says what the figure shows; the report falls back to the file name without one."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={CAPTION_KEY: caption})
    plt.close(fig)
    return path
