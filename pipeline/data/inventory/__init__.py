"""Stage prepare_inventory (`python -m pipeline.data inventory`): the chemical inventory log,
generated (generator.py) or read, checked (cas.py, units.py) and turned into the daily series
of pipeline/contracts/inventory.py."""
from pipeline.data.inventory.stage import prepare

__all__ = ["prepare"]
