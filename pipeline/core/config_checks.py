"""The allowed range of every configuration knob that has one, checked when a stage loads its config.

conf/ documents each knob beside its value; this table says which values make physical sense, so
a slip (`costs.maintenance_scale=-1`, a humidity box upside down, `solver.name=hihgs`) stops the
stage at once with one line per problem that names the key, the value and what is allowed,
instead of a wrong answer or a traceback minutes later. `load_params` runs it for every stage;
the optimiser (a Hydra app) runs it on its composed config. Keys absent from a config (another
source's options, say) are not checked; values are checked after interpolation.

Patterns use `*` for one key level (`costs.*_scale`). Choices that live in code (the solver
names of pipeline/optimize/solve.py, the launchers of conf/hydra/launcher) are passed in by the
stage that knows them (`choices=`), so this module imports nothing from the stages.
"""
from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf


class ConfigError(ValueError):
    """One or more knobs outside their allowed range; one line per problem."""

    def __init__(self, problems: list[str], source: str = "params.yaml"):
        self.problems = problems
        lines = [f"{source}: {p}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Number:
    pattern: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False    # low excluded
    high_open: bool = False   # high excluded
    integer: bool = False
    each: bool = False        # a list of such numbers

    def allowed(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        kind = "whole number" if self.integer else "number"
        bounds = " and ".join(parts)
        if self.each:
            return f"a list of {kind}s" + (f", each {bounds}" if bounds else "")
        return f"a {kind} {bounds}".strip()

    def problem(self, value) -> str | None:
        values = value if self.each else [value]
        if self.each and not isinstance(value, list):
            return "not a list"
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                return "not a finite number"
            if self.integer and float(v) != int(v):
                return "not a whole number"
            if self.low is not None and (v <= self.low if self.low_open else v < self.low):
                return "too small"
            if self.high is not None and (v >= self.high if self.high_open else v > self.high):
                return "too large"
        return None


@dataclass(frozen=True)
class Choice:
    pattern: str
    options: tuple

    def allowed(self) -> str:
        return "one of " + ", ".join(map(str, self.options))

    def problem(self, value) -> str | None:
        return None if value in self.options else "unknown"


@dataclass(frozen=True)
class Ordered:
    """low_key <= high_key (strict: <); both must exist and be numbers (their own rules say so)."""
    low_key: str
    high_key: str
    strict: bool = True


@dataclass(frozen=True)
class Pair:
    """A [low, high] list with low <= high (e.g. a valid range); `within` bounds both ends."""
    pattern: str
    low: float | None = None
    high: float | None = None
    integer: bool = False


@dataclass(frozen=True)
class SumBelow:
    """keys' values summed stay below `limit` (shares of a split leave room for the test share)."""
    keys: tuple[str, ...]
    limit: float


@dataclass(frozen=True)
class TimeZone:
    pattern: str


def _shares(prefix: str) -> list:
    return [Number(f"{prefix}.split.train", 0, 1, low_open=True, high_open=True),
            Number(f"{prefix}.split.val", 0, 1, high_open=True),
            SumBelow((f"{prefix}.split.train", f"{prefix}.split.val"), 1.0)]


def _training(prefix: str) -> list:
    return [Number(f"{prefix}.max_epochs", 1, integer=True), Number(f"{prefix}.patience", 0, integer=True),
            Number(f"{prefix}.batch_size", 1, integer=True), Number(f"{prefix}.torch_threads", 1, integer=True),
            Number(f"{prefix}.optimizer.lr", 0, low_open=True), Number(f"{prefix}.optimizer.weight_decay", 0),
            Number(f"{prefix}.network.dropout", 0, 1, high_open=True), Number(f"{prefix}.export.tolerance.*", 0),
            *_shares(prefix)]


RULES: list = [
    Number("seed", 0, integer=True),
    # tablet-press fault log (conf/data/fault)
    Choice("data.fault.source", ("generated", "file")),
    Number("data.fault.n_rows", 1, integer=True),
    Number("data.fault.interval_minutes", 0, low_open=True),
    Number("data.fault.process.drift_hours", 0, low_open=True),
    Number("data.fault.process.*.drift_sd", 0), Number("data.fault.process.*.noise_sd", 0),
    Number("data.fault.process.humidity_pct.setpoint_*", 0, 100),
    Ordered("data.fault.process.temperature_C.setpoint_low", "data.fault.process.temperature_C.setpoint_high"),
    Ordered("data.fault.process.humidity_pct.setpoint_low", "data.fault.process.humidity_pct.setpoint_high"),
    Number("data.fault.process.maintenance.hourly_rate_max", 0, 1),
    Number("data.fault.process.maintenance.max_per_day", 0, 24, integer=True),
    Number("data.fault.truth.*_scale", 0, low_open=True),
    Number("data.fault.unit_factors.*", 0, low_open=True),
    Pair("data.fault.valid_ranges.*"),
    Choice("data.fault.on_bad_row", ("quarantine", "error")),
    Choice("data.fault.unordered", ("error", "sort")),
    # line (conf/data/line)
    Choice("data.line.source", ("generated", "workbook", "csv")),
    Number("data.line.hours", 0, low_open=True),
    Number("data.line.period_s", 0, low_open=True),
    Number("data.line.chunk_seconds", 1, integer=True),
    Number("data.line.align_period_s", 0, low_open=True),
    Number("data.line.ffill_limit_s", 0),
    Number("data.line.validation.gap_factor", 1),
    Number("data.line.validation.stuck_seconds", 0, low_open=True),
    Number("data.line.read.chunk_rows", 1, integer=True),
    # chemical inventory (conf/data/inventory)
    Choice("data.inventory.source", ("generated", "file")),
    Number("data.inventory.days", 1, integer=True),
    Number("data.inventory.chemicals.*.density_g_per_ml", 0, low_open=True),
    Number("data.inventory.chemicals.*.use_per_experiment_day", 0),
    Number("data.inventory.chemicals.*.pack", 0, low_open=True),
    Choice("data.inventory.chemicals.*.kind", ("mass", "volume")),
    Number("data.inventory.plausible_max.*", 0, low_open=True),
    Choice("data.inventory.on_duplicate", ("quarantine", "count")),
    Choice("data.inventory.on_implausible", ("quarantine", "count")),
    Number("data.inventory.generator.starts_per_week", 0),
    Pair("data.inventory.generator.duration_days", 1, integer=True),
    Pair("data.inventory.generator.chemicals_per_experiment", 1, integer=True),
    Pair("data.inventory.generator.working_days_per_week", 1, 7, integer=True),
    Number("data.inventory.generator.weekday_weight", 0, each=True),
    Number("data.inventory.generator.attendance", 0, 1),
    Number("data.inventory.generator.dose_sd", 0),
    Number("data.inventory.generator.large_unit_share", 0, 1),
    Number("data.inventory.generator.reorder_cover_days", 0),
    Number("data.inventory.generator.order_packs_min", 1, integer=True),
    # prices (conf/data/prices)
    Choice("data.prices.source", ("profile", "caiso", "csv")),
    Number("data.prices.to_usd_per_mwh", 0, low_open=True),
    Number("data.prices.profile_usd_per_mwh", each=True),
    TimeZone("data.prices.timezone"),
    # models (conf/model)
    *_training("model.fault"),
    Number("model.fault.calibration_bins", 2, integer=True),
    Number("model.fault.network.hidden", 1, each=True, integer=True),
    Number("model.fault.milp_aware.*_weight", 0), Number("model.fault.milp_aware.prune_below", 0),
    Choice("model.fault.threshold.rule", ("fixed", "f1", "cost")),
    Number("model.fault.threshold.fixed", 0, 1),
    Choice("model.fault.class_weighting", ("none", "balanced")),
    *_training("model.process"),
    Number("model.process.lookback", 1, integer=True), Number("model.process.horizon", 1, integer=True),
    Number("model.process.horizons", 1, each=True, integer=True),
    Number("model.process.stride", 1, integer=True),
    Number("model.process.network.hidden", 1, integer=True), Number("model.process.network.layers", 1, integer=True),
    Number("model.process.golden.k_sigma", 0, low_open=True),
    # issue 23 (line forecaster across batches): cross-validated selection, level context, level shifts
    Choice("model.process.select.cv", ("leave_one_out", "rolling")),
    Number("model.process.select.lstm_min_gain", 0, 1, high_open=True),
    Number("model.process.select.lstm_folds", 1, integer=True),
    Number("model.process.select.early_stop_share", 0, 1, low_open=True, high_open=True),
    Number("model.process.select.time_blocks", 2, integer=True),
    Number("model.process.split.test_batches", 1, integer=True),
    Choice("model.process.baselines.ar_level", ("window", "fitted")),
    Choice("model.process.network.context", ("global", "window")),
    Number("model.process.network.level_steps", 1, integer=True),
    Number("model.process.shift.level_sigma", 0, low_open=True),
    Number("model.process.shift.spread_ratio", 1, low_open=True),
    Number("model.process.shift.min_running_steps", 1, integer=True),
    Number("model.process.baselines.recent_s", 0),
    # end of issue 23
    *_training("model.inventory"),
    Number("model.inventory.seq_len", 1, integer=True), Number("model.inventory.horizon", 1, integer=True),
    Number("model.inventory.reorder.lead_time_days", 0, integer=True),
    Number("model.inventory.reorder.default_days", 1, integer=True),
    Number("model.inventory.reorder.service_level", 0, 1, low_open=True, high_open=True),
    # the schedule (conf/optimize)
    Number("optimize.horizon_hours", 1, integer=True),
    Number("optimize.presses", 1, integer=True),
    Number("optimize.training_range_tolerance", 0),
    Number("optimize.fixed_inputs.*", 0),
    Ordered("optimize.temperature_C.min", "optimize.temperature_C.max"),
    Number("optimize.humidity_pct.*", 0, 100),
    Ordered("optimize.humidity_pct.min", "optimize.humidity_pct.max"),
    Ordered("optimize.humidity_pct.min", "optimize.humidity_pct.initial", strict=False),
    Ordered("optimize.humidity_pct.initial", "optimize.humidity_pct.max", strict=False),
    Number("optimize.outside_temperature_C", each=True),
    Number("optimize.production.max_per_hour", 1, integer=True),
    Number("optimize.production.maintenance_hours", 0, 1),
    Number("optimize.production.demand_per_day", 0),
    Choice("optimize.production.demand_scope", ("day", "horizon")),
    Number("optimize.maintenance.required_per_day", 0, 24, integer=True),
    Number("optimize.maintenance.max_per_day", 0, 24, integer=True),
    Ordered("optimize.maintenance.required_per_day", "optimize.maintenance.max_per_day", strict=False),
    Choice("optimize.decomposition", ("auto", "none")),
    Choice("optimize.formulation.network_encoding", ("bigm", "regions", "omlt_bigm")),
    Choice("optimize.formulation.bound_tightening", ("interval", "lp", "milp")),
    Number("optimize.formulation.sigmoid_tolerance", 0, low_open=True),
    Number("optimize.formulation.hour_value_strips", 1, integer=True),
    Number("optimize.verification.*", 0, low_open=True),
    # issue 24 (a plant of different presses): the plant's own keys are checked by
    # pipeline/optimize/plant.py (one line naming room, press and key); these are the new knobs
    Choice("optimize.parallel", ("none", "joblib", "ray")),
    Number("optimize.workers", 1, 256, integer=True),
    Number("optimize.search.dp_cells", 2, 65536, integer=True),
    # costs (conf/costs) and the solver (conf/solver)
    Number("costs.*", 0), Number("costs.machine_energy.*", 0),
    Number("costs.usd_per_kwh_per_usd_per_mwh", 0, low_open=True),
    Number("solver.time_limit_s", 0, low_open=True),
    Number("solver.mip_rel_gap", 0, 1, high_open=True),
    Number("solver.threads", 0, integer=True),
    # the sweep (conf/sweep)
    Number("sweep.scales", 0, each=True),
    # issue 21 (doors-files): price files finer than an hour and the file's own zone
    # (conf/data/prices/caiso.yaml, csv.yaml), the fault network's weight limit (conf/optimize).
    TimeZone("data.prices.file_timezone"),
    Choice("data.prices.stamp_marks", ("start", "end")),
    Choice("data.prices.partial_hour", ("quarantine", "error")),
    Number("optimize.max_abs_weight", 0, low_open=True),
    # issue 26 (security): OPC UA security of the line server, the monitor and the planner
    # (conf/live/opcua.yaml, live.security; pipeline/core/opcua_security.py). None: local tries only.
    Choice("live.security.policy", ("Basic256Sha256", "None")),
    Choice("live.security.mode", ("SignAndEncrypt", "Sign")),
    # issue 25: live re-planning and the scripted press server (conf/replan)
    Number("replan.triggers.probability_change", 0, 1, low_open=True, high_open=True),
    Number("replan.triggers.price_change", 0, low_open=True),
    Number("replan.triggers.smoothing_s", 0, low_open=True),
    Number("replan.triggers.debounce_s", 0),
    Number("replan.solve.time_limit_s", 0, low_open=True),
    Number("replan.publishing_interval_ms", 0, low_open=True),
    Number("replan.connect_timeout_s", 0), Number("replan.request_timeout_s", 0, low_open=True),
    Number("replan.reconnect_max_delay_s", 0, low_open=True),
    Number("replan.grace_s", 0), Number("replan.stale_after_s", 0, low_open=True),
    Number("replan.shortfall_usd_per_unit", 0),
    Number("replan.line.speed", 0),
    Number("replan.line.tick_s", 1, 3600, integer=True),
    Number("replan.line.ack_timeout_s", 0, low_open=True),
    Number("replan.line.noise.*", 0),
    # --- issue 21 (doors-service): the inventory rules' day limit and the prediction service's knobs
    # (conf/data/inventory, conf/serve/inventory.yaml). One block, to port into the typed schemas as it is.
    Number("data.inventory.max_id", 1, integer=True),
    Number("serve.port", 1, 65535, integer=True),
    Number("serve.workers", 1, 64, integer=True),
    Number("serve.threads", 1, 64, integer=True),
    Number("serve.max_body_mb", 0, 1000, low_open=True),
    Choice("serve.auth.open", (True, False)),
    Number("serve.limits.days_after_log", 0, 365, integer=True),
    Number("serve.limits.max_amount_per_day", 0, 1e12, low_open=True),
    Number("serve.limits.max_experiments_per_day", 1, 1e6, integer=True),
    Number("serve.limits.max_stock", 0, 1e15, low_open=True),
    Number("serve.limits.max_error_rows", 1, 10_000, integer=True),
    # --- end of issue 21 (doors-service)
]


def _leaves(data, prefix: str = "") -> dict[str, object]:
    """Dotted keys of every leaf (lists are leaves)."""
    out: dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_leaves(value, f"{name}."))
        else:
            out[name] = value
    return out


def _matches(pattern: str, keys: Iterable[str]) -> list[str]:
    depth = pattern.count(".")
    return [k for k in keys if k.count(".") == depth and fnmatch.fnmatchcase(k, pattern)]


def _show(value) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _check(rule, leaves: dict[str, object]) -> list[str]:
    problems = []
    if isinstance(rule, (Number, Choice)):
        for key in _matches(rule.pattern, leaves):
            value = leaves[key]
            if value is None and isinstance(rule, Number) and not rule.each:
                continue  # null means "not used" (e.g. no density known)
            if rule.problem(value):
                problems.append(f"{key} = {_show(value)}: allowed {rule.allowed()}")
    elif isinstance(rule, Ordered):
        low, high = leaves.get(rule.low_key), leaves.get(rule.high_key)
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            if (low >= high) if rule.strict else (low > high):
                problems.append(f"{rule.low_key} = {low} must be {'below' if rule.strict else 'at most'} "
                                f"{rule.high_key} = {high}")
    elif isinstance(rule, Pair):
        for key in _matches(rule.pattern, leaves):
            value = leaves[key]
            ok = isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and (not rule.integer or float(v) == int(v)) for v in value)
            ok = ok and value[0] <= value[1]
            ok = ok and (rule.low is None or value[0] >= rule.low) and (rule.high is None or value[1] <= rule.high)
            if not ok:
                bounds = "".join([f", both >= {rule.low:g}" if rule.low is not None else "",
                                  f", both <= {rule.high:g}" if rule.high is not None else ""])
                kind = "whole numbers" if rule.integer else "numbers"
                problems.append(f"{key} = {_show(value)}: allowed [low, high], {kind} with low <= high{bounds}")
    elif isinstance(rule, SumBelow):
        values = [leaves.get(k) for k in rule.keys]
        if all(isinstance(v, (int, float)) for v in values) and sum(values) >= rule.limit:
            problems.append(f"{' + '.join(rule.keys)} = {sum(values):g}: allowed below {rule.limit:g}")
    elif isinstance(rule, TimeZone):
        for key in _matches(rule.pattern, leaves):
            value = leaves[key]
            if value is not None and not _is_zone(value):
                problems.append(f"{key} = {_show(value)}: allowed an IANA time zone name (e.g. "
                                "America/Los_Angeles, Europe/Berlin, UTC) or null")
    return problems


def _is_zone(name) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def problems(cfg: DictConfig, choices: dict[str, Iterable] | None = None,
             rules: Iterable | None = None) -> list[str]:
    """Every rule's problems with `cfg` (and `choices`: key -> allowed values known in code)."""
    leaves = _leaves(OmegaConf.to_container(cfg, resolve=True))
    extra = [Choice(key, tuple(options)) for key, options in (choices or {}).items()]
    return [p for rule in [*(RULES if rules is None else rules), *extra] for p in _check(rule, leaves)]


def check_config(cfg: DictConfig, choices: dict[str, Iterable] | None = None, source: str = "params.yaml") -> None:
    """Raise ConfigError naming every knob outside its allowed range (nothing when all are fine)."""
    found = problems(cfg, choices)
    if found:
        raise ConfigError(found, source)

