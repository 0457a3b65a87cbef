"""Stage prepare_inventory (`python -m pipeline.data inventory`): the chemical inventory log,
generated (generator.py) or read, judged by the rules of pipeline/contracts/inventory (which the
prediction service applies too) and turned into its daily series."""
from pipeline.data.inventory.stage import prepare

__all__ = ["prepare"]
