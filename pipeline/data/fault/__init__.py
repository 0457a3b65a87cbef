"""Stage prepare_fault (`python -m pipeline.data fault`): the tablet-press sensor log, generated
(generator.py) or loaded from your file (loader.py), written in the columns of
pipeline/contracts/fault_log.py."""
from pipeline.data.fault.stage import prepare

__all__ = ["prepare"]
