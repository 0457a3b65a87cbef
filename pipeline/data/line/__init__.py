"""Stage prepare_line (`python -m pipeline.data line`): 1 Hz line data, generated (generator.py,
stations.py) or read from a workbook/CSV (loaders.py), validated chunk by chunk (validation.py)
and written as the files of pipeline/contracts/line.py."""
from pipeline.core.settings import data_line, run, tracking
from pipeline.data.line.stage import prepare

# The sections this stage reads, checked as it loads them.
SETTINGS = {"seed": run.Seed, "paths": run.Paths, "tracking": tracking.Tracking, "data.line": data_line.DataLine}

__all__ = ["SETTINGS", "prepare"]
