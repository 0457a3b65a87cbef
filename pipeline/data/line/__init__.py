"""Stage prepare_line (`python -m pipeline.data line`): 1 Hz line data, generated (generator.py,
stations.py) or read from a workbook/CSV (loaders.py), validated chunk by chunk (validation.py)
and written as the files of pipeline/contracts/line.py."""
from pipeline.data.line.stage import prepare

__all__ = ["prepare"]
