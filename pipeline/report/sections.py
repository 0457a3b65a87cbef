"""Which stage writes which folder under reports/, and one sentence on what each part shows."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    stage: str      # DVC stage name(s) (dvc.yaml) that fill the folder
    folder: str     # folder under reports/
    title: str
    sentence: str   # what the section shows, one sentence
    experiment: str | None = None  # MLflow experiment suffix (tablet/<experiment>), if it logs one


SECTIONS: tuple[Section, ...] = (
    Section("prepare_fault, prepare_line, prepare_inventory, prepare_prices", "data", "Data",
            "Row counts and quarantined rows of every input data set, as the prepare stages validated them."),
    Section("train_fault", "fault", "Fault network",
            "Quality of the tablet-press failure-probability network against its baselines on held-out data.",
            "train_fault"),
    Section("train_process", "process", "Process forecaster",
            "How well the deployed forecaster (the LSTM where it beat the baselines on validation, the best "
            "baseline elsewhere) forecasts the line's critical process parameters, and how its early warnings, "
            "per operating state, score against the known disturbances.",
            "train_process"),
    Section("train_inventory", "inventory", "Inventory forecaster",
            "Chemical-usage forecasts per chemical against simple baselines.", "train_inventory"),
    Section("optimize", "optimize", "24-hour schedule",
            "The optimised production, maintenance and setpoint schedule and its objective parts.", "optimize"),
    Section("sweep", "sweep", "Cost sensitivity sweep",
            "How profit, penalty, energy and maintenance cost respond when one cost is scaled from 0.5x to 1.5x.",
            "sweep"),
    Section("benchmarks", "bench", "Benchmarks",
            "Speed and memory figures measured by the scripts under benchmarks/."),
)
