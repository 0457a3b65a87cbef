"""Stage prepare_fault (`python -m pipeline.data fault`): the tablet-press sensor log, generated
(generator.py) or loaded from your file (loader.py), written in the columns of
pipeline/contracts/fault_log.py."""
from pipeline.core.settings import data_fault, run, tracking
from pipeline.data.fault.stage import prepare

# The sections this stage reads, checked as it loads them.
SETTINGS = {"seed": run.Seed, "paths": run.Paths, "tracking": tracking.Tracking, "data.fault": data_fault.DataFault}

__all__ = ["SETTINGS", "prepare"]
