"""The process section's level-shift block (issue 23): which batches train_process flagged as
running at another level or spread than the other batches of their product, by name, from
reports/process/shifts.csv. Self-contained: the page calls `level_shift_block(folder)` and
places the HTML it returns."""
from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

SHIFTS_FILE = "shifts.csv"


def level_shift_block(folder: Path) -> str:
    """HTML naming every flagged batch and target with its figures; a sentence when none is
    flagged or the data have no batches; nothing when the stage wrote no shifts.csv."""
    path = Path(folder) / SHIFTS_FILE
    if not path.exists():
        return ""
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        return f'<p class="missing">{escape(SHIFTS_FILE)}: unreadable ({escape(str(exc))})</p>'
    head = ("<h3>Level shifts</h3><p>Per batch and target, the running level against the other development "
            "batches of the same product (robust standardised difference of medians) and the spread against "
            "theirs (ratio of robust sigmas); thresholds in model.process.shift.</p>")
    if table.empty:
        return head + '<p class="note">The data name no batches: nothing to compare.</p>'
    flagged = table[table.flagged.astype(bool)]
    if flagged.empty:
        return head + f'<p class="note">No batch flagged ({table.batch.nunique()} batches checked).</p>'
    rows = "".join(
        f"<tr><td>{escape(str(r.batch))}</td><td>{escape(str(r.part))}</td><td>{escape(str(r.target))}</td>"
        f"<td>{r.median:.4g}</td><td>{r.reference_median:.4g}</td><td>{r.level_sigma:+.1f}</td>"
        f"<td>{r.spread_ratio:.2f}</td></tr>" for r in flagged.itertuples(index=False))
    return (head + f'<p class="moved">{flagged.batch.nunique()} of {table.batch.nunique()} batches flagged.</p>'
            "<table><tr><th>batch</th><th>part</th><th>target</th><th>median</th><th>reference median</th>"
            f"<th>level (sigmas)</th><th>spread ratio</th></tr>{rows}</table>")
