"""What the three model groups (conf/model/fault, process, inventory) share: epochs, split,
optimizer, ONNX export; each group's file adds its own knobs."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipeline.core.settings.schema import Bad, Count, Instantiable, NonNegative, Positive, Section, number, whole

Dropout = number(ge=0, lt=1)


class Split(Section):
    """Chronological shares: train, val, and the rest (> 0) the test (pipeline/core/split.py)."""
    train: number(gt=0, lt=1)
    val: number(ge=0, lt=1)

    @model_validator(mode="after")
    def _room_for_a_test(self):
        if self.train + self.val >= 1:
            raise Bad("val", self.val, f"allowed below 1 - train = {1 - self.train:g} (the rest is the test split)")
        return self


class Optimizer(Instantiable):
    lr: Positive | None = None
    weight_decay: NonNegative | None = None


class Tolerance(Section):
    atol: NonNegative
    rtol: NonNegative


class Export(Section):
    opset: whole(11, 25)
    tolerance: Tolerance


class Training(Section):
    max_epochs: whole(1, 10_000)
    patience: Count
    batch_size: whole(1, 1_000_000)
    torch_threads: whole(1, 256)
    optimizer: Optimizer
    loss: Instantiable
    export: Export


class Scheduler(Instantiable):
    mode: Literal["min", "max"] | None = None
    factor: number(gt=0, lt=1) | None = None
    patience: Count | None = None


NonEmptyWidths = Annotated[list[whole(1, 100_000)], Field(min_length=1)]
