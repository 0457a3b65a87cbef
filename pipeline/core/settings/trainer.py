"""Schema of conf/trainer (option cpu): the Lightning Trainer the three models share."""
from __future__ import annotations

from pipeline.core.settings.schema import Instantiable, PositiveInt, Text


class Trainer(Instantiable):
    accelerator: Text | None = None
    devices: PositiveInt | None = None
    deterministic: bool | None = None
    enable_progress_bar: bool | None = None
    enable_model_summary: bool | None = None
    log_every_n_steps: PositiveInt | None = None
    enable_checkpointing: bool | None = None
    default_root_dir: Text | None = None
