"""Stage prepare_inventory (`python -m pipeline.data inventory`): the chemical inventory log,
generated (generator.py) or read, judged by the rules of pipeline/contracts/inventory (which the
prediction service applies too) and turned into its daily series."""
from pipeline.core.settings import data_inventory, run, tracking
from pipeline.data.inventory.stage import prepare

# The sections this stage reads, checked as it loads them.
SETTINGS = {"seed": run.Seed, "paths": run.Paths, "tracking": tracking.Tracking,
            "data.inventory": data_inventory.DataInventory}

__all__ = ["SETTINGS", "prepare"]
