"""Deterministic generator of a small but realistic utility, with ground truth.

``generate_utility`` returns the whole utility as canonical polars frames; ``iter_utility_batches``
yields it one batch of whole transformer areas at a time (bounded memory for 10,000 meters and
more). Both give identical rows for the same arguments: topology, customer sizes and anomaly
placement are planned first from the seed (``plan.py``); each area then draws from its own
random stream, ``SeedSequence(seed, spawn_key=(1, area_index))``.

Pipeline per area::

    true consumption (load.py) -> phase loss cuts supply (transformer.py)
    -> LV busbar power, pf, rating, voltage (electrical.py) -> transformer faults, oil, rounding
    -> each meter quantises, registers and mis-reports (meters.py) -> long frames + truth
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from griddiag.exceptions import ConfigError
from griddiag.sample.calendar import DayCalendar, TimeAxis, build_time_axis, day_calendar
from griddiag.sample.electrical import TRANSFORMER_METRICS, allocate_phases, transformer_series
from griddiag.sample.load import common_daily_log_shock, true_energy_kwh
from griddiag.sample.meters import MeterReport, report_meter
from griddiag.sample.params import CLASSES, NOMINAL_PHASE_V, TZ
from griddiag.sample.plan import AreaPlan, UtilityPlan, plan_utility
from griddiag.sample.transformer import apply_phase_loss, finish_transformer
from griddiag.sample.truth import TRUTH_SCHEMA, truth_frame, truth_row
from griddiag.sample.weather import Weather, generate_weather
from griddiag.schema import READINGS_SCHEMA, normalize_assets

__all__ = [
    "DEFAULT_SEED",
    "SampleBatch",
    "SampleConfig",
    "SampleUtility",
    "generate_utility",
    "iter_utility_batches",
]

DEFAULT_SEED = 20260101


@dataclass(frozen=True)
class SampleConfig:
    """Arguments of a generation run; equal configs give identical frames."""

    meters: int = 300
    years: tuple[int, ...] = (2023, 2024, 2025)
    seed: int = DEFAULT_SEED
    interval_minutes: int = 15
    meters_per_transformer: int = 30
    register_interval_minutes: int = 1440
    transformer_interval_minutes: int = 15
    anomaly_rate: float = 0.01

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class SampleBatch:
    """Whole transformer areas: their assets, readings and truth (canonical frames).

    The first batch also carries the substations and feeders, the weather truth rows and the
    daily weather frame (``weather`` is None in later batches).
    """

    assets: pl.DataFrame
    readings: pl.DataFrame
    truth: pl.DataFrame
    weather: pl.DataFrame | None = None


@dataclass
class SampleUtility:
    """A generated utility.

    Attributes
    ----------
    config : SampleConfig
    assets : polars.DataFrame
        ``griddiag.schema.ASSETS_SCHEMA``: substations, feeders, transformers, meters.
    readings : polars.DataFrame
        ``griddiag.schema.READINGS_SCHEMA`` long frame, grouped by transformer area.
    truth : polars.DataFrame
        ``griddiag.sample.truth.TRUTH_SCHEMA``: every injected anomaly, event and change.
    weather : polars.DataFrame
        One row per local date: temperatures, heat wave flag, working day, holiday name.
    """

    config: SampleConfig
    assets: pl.DataFrame
    readings: pl.DataFrame
    truth: pl.DataFrame
    weather: pl.DataFrame

    def _clean(self, kind: str) -> list[str]:
        ids = self.assets.filter(pl.col("kind") == kind)["asset_id"]
        dirty = set(self.truth["asset_id"].to_list())
        return [a for a in ids.to_list() if a not in dirty]

    @property
    def clean_meters(self) -> list[str]:
        """Meters with no truth row at all: nothing was injected into them."""
        return self._clean("meter")

    @property
    def clean_transformers(self) -> list[str]:
        """Transformers with no truth row (their meters may still carry anomalies)."""
        return self._clean("transformer")


@dataclass
class _Context:
    config: SampleConfig
    plan: UtilityPlan
    axis: TimeAxis
    calendar: DayCalendar
    weather: Weather
    common_log: np.ndarray
    read_steps: np.ndarray

    @property
    def tx_every(self) -> int:
        return self.config.transformer_interval_minutes // self.config.interval_minutes


def _validate(config: SampleConfig) -> None:
    for name in ("register_interval_minutes", "transformer_interval_minutes"):
        value = getattr(config, name)
        if value < 1 or value % config.interval_minutes or 1440 % value:
            raise ConfigError(
                f"{name}={value} must be a multiple of interval_minutes="
                f"{config.interval_minutes} that divides a day (e.g. 15, 60, 1440)"
            )


def _prepare(config: SampleConfig) -> _Context:
    _validate(config)
    axis = build_time_axis(config.years, config.interval_minutes)
    plan = plan_utility(axis, meters=config.meters,
                        meters_per_transformer=config.meters_per_transformer,
                        seed=config.seed, anomaly_rate=config.anomaly_rate)
    weather_rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(2,)))
    weather = generate_weather(axis, weather_rng, plan.heat_waves)
    common_log = common_daily_log_shock(axis, weather_rng)
    every = config.register_interval_minutes // config.interval_minutes
    read_steps = np.arange(0, axis.n_steps, every)
    return _Context(config, plan, axis, day_calendar(axis), weather, common_log, read_steps)


# --- frames ------------------------------------------------------------------------------

def _long_frame(asset_ids: list[str], metrics: list[str], values: np.ndarray,
                ts_us: np.ndarray, present: np.ndarray | None) -> pl.DataFrame:
    """Canonical long rows of ``len(asset_ids)`` series sharing one timestamp grid."""
    k, n = values.shape
    idx = np.repeat(np.arange(k, dtype=np.uint32), n)
    ts = np.tile(ts_us, k)
    val = values.ravel()
    if present is not None and not present.all():
        keep = present.ravel()
        idx, ts, val = idx[keep], ts[keep], val[keep]
    return pl.DataFrame({
        "asset_id": pl.Series(asset_ids, dtype=pl.String).gather(idx),
        "ts": pl.Series(ts, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "metric": pl.Series(metrics, dtype=pl.String).gather(idx),
        "value": pl.Series(val, dtype=pl.Float64),
    }).cast(READINGS_SCHEMA)  # type: ignore[arg-type]


def _asset_rows(area: AreaPlan, rated_kva: float) -> list[dict]:
    rows = [{"asset_id": area.transformer_id, "kind": "transformer",
             "parent_id": area.feeder_id, "name": area.transformer_name,
             "nominal_voltage_v": NOMINAL_PHASE_V, "rated_kva": rated_kva, "phases": 3,
             "tz": TZ}]
    for m in area.meters:
        rows.append({"asset_id": m.asset_id, "kind": "meter", "parent_id": area.transformer_id,
                     "nominal_voltage_v": NOMINAL_PHASE_V,
                     "phases": CLASSES[m.customer_class].phases,
                     "customer_class": m.customer_class, "register_digits": m.register_digits,
                     "tz": TZ})
    return rows


def _network_rows(plan: UtilityPlan) -> list[dict]:
    rows = [{"asset_id": sid, "kind": "substation", "parent_id": None, "name": name,
             "nominal_voltage_v": 110_000.0, "phases": 3, "tz": TZ}
            for sid, name in plan.substations]
    rows += [{"asset_id": fid, "kind": "feeder", "parent_id": sid, "name": name,
              "nominal_voltage_v": 10_000.0, "phases": 3, "tz": TZ}
             for fid, name, sid in plan.feeders]
    return rows


def _assets_frame(rows: list[dict]) -> pl.DataFrame:
    return normalize_assets(pl.DataFrame(rows, infer_schema_length=None))


# --- one area ------------------------------------------------------------------------------

def _line_loss_truth(area: AreaPlan, supply_kwh: np.ndarray, counted_kwh: np.ndarray,
                     axis: TimeAxis) -> list[dict]:
    """The theft meter's transformer: line-loss rate 90 days before vs after the theft."""
    rows = []
    window = 90 * axis.steps_per_day
    for inj in area.injections_of("theft"):
        s = inj.start_step
        before = slice(max(0, s - window), s)
        after = slice(s, min(axis.n_steps, s + window))

        def rate(sl: slice) -> float:
            return 1.0 - counted_kwh[sl].sum() / supply_kwh[sl].sum()

        points = (rate(after) - rate(before)) * 100.0 if s > 0 else float("nan")
        rows.append(truth_row(
            "line_loss", area.transformer_id, axis.to_datetime(s), axis.to_datetime(inj.end_step),
            magnitude=round(points, 2),
            notes=f"line-loss rate {rate(before):.1%} -> {rate(after):.1%} (90 days either "
                  f"side) after theft at {inj.asset_id}"))
    return rows


def _peak_window(ctx: _Context) -> slice | None:
    if not ctx.plan.heat_waves:
        return None
    hw = ctx.plan.heat_waves[-1]
    spd = ctx.axis.steps_per_day
    return slice(hw.start_day * spd, (hw.start_day + hw.days) * spd)


def _generate_area(ctx: _Context, area: AreaPlan) -> SampleBatch:
    axis = ctx.axis
    rng = np.random.default_rng(np.random.SeedSequence(ctx.config.seed,
                                                       spawn_key=(1, area.index)))
    true = true_energy_kwh(area, axis, ctx.calendar, ctx.weather, ctx.common_log, rng)
    phases = allocate_phases(area)
    truth = apply_phase_loss(area, true, phases, axis)
    elec, extra = transformer_series(area, true, phases, axis, ctx.weather, rng,
                                     _peak_window(ctx))
    tx_values, tx_present, tx_truth = finish_transformer(
        area, elec, extra["ambient_temp_c"], axis, rng, ctx.tx_every)
    truth += tx_truth
    reports: list[MeterReport] = []
    for k, meter in enumerate(area.meters):
        own = [i for i in area.injections if i.asset_id == meter.asset_id]
        reports.append(report_meter(meter, true[k], own, axis, ctx.read_steps, rng))
        truth += reports[-1].truth
    if reports:
        supply = elec.p_kw.sum(axis=0) * axis.interval_hours
        counted = np.sum([r.counted_kwh for r in reports], axis=0)
        truth += _line_loss_truth(area, supply, counted, axis)
    return SampleBatch(_assets_frame(_asset_rows(area, elec.rated_kva)),
                       _area_readings(ctx, area, reports, tx_values, tx_present),
                       truth_frame(truth))


def _area_readings(ctx: _Context, area: AreaPlan, reports: list[MeterReport],
                   tx_values: np.ndarray, tx_present: np.ndarray) -> pl.DataFrame:
    ids = [m.asset_id for m in area.meters]
    frames = []
    if reports:
        frames.append(_long_frame(ids, ["energy_kwh"] * len(ids),
                                  np.vstack([r.energy_kwh for r in reports]), ctx.axis.ts_us,
                                  np.vstack([r.energy_present for r in reports])))
        frames.append(_long_frame(ids, ["register_kwh"] * len(ids),
                                  np.vstack([r.register_kwh for r in reports]),
                                  ctx.axis.ts_us[ctx.read_steps],
                                  np.vstack([r.register_present for r in reports])))
    frames.append(_long_frame([area.transformer_id] * len(TRANSFORMER_METRICS),
                              list(TRANSFORMER_METRICS), tx_values,
                              ctx.axis.ts_us[::ctx.tx_every], tx_present))
    return pl.concat(frames)


def _weather_truth(ctx: _Context) -> list[dict]:
    spd = ctx.axis.steps_per_day
    site = ctx.plan.substations[0][0]
    return [truth_row("heat_wave", site, ctx.axis.to_datetime(hw.start_day * spd),
                      ctx.axis.to_datetime((hw.start_day + hw.days) * spd),
                      magnitude=round(hw.excess_k, 2),
                      notes=f"{hw.days}-day heat wave: daily mean raised by up to "
                            f"{hw.excess_k:.1f} K for all areas")
            for hw in ctx.plan.heat_waves]


# --- public API ----------------------------------------------------------------------------

def _config(meters: int, years: tuple[int, ...] | list[int], seed: int, interval_minutes: int,
            meters_per_transformer: int, register_interval_minutes: int,
            transformer_interval_minutes: int | None, anomaly_rate: float) -> SampleConfig:
    tx = interval_minutes if transformer_interval_minutes is None else transformer_interval_minutes
    return SampleConfig(int(meters), tuple(int(y) for y in years), int(seed),
                        int(interval_minutes), int(meters_per_transformer),
                        int(register_interval_minutes), int(tx), float(anomaly_rate))


def _iter_batches(ctx: _Context, areas_per_batch: int) -> Iterator[SampleBatch]:
    areas = ctx.plan.areas
    for first in range(0, len(areas), areas_per_batch):
        parts = [_generate_area(ctx, a) for a in areas[first:first + areas_per_batch]]
        assets = pl.concat([p.assets for p in parts])
        truth = pl.concat([p.truth for p in parts])
        weather = None
        if first == 0:
            assets = pl.concat([_assets_frame(_network_rows(ctx.plan)), assets])
            truth = pl.concat([truth_frame(_weather_truth(ctx)), truth])
            weather = ctx.weather.frame(ctx.axis, ctx.calendar)
        yield SampleBatch(assets, pl.concat([p.readings for p in parts]), truth, weather)


def iter_utility_batches(*, meters: int = 300, years: tuple[int, ...] | list[int] = (2023, 2024,
                                                                                     2025),
                         seed: int = DEFAULT_SEED, interval_minutes: int = 15,
                         meters_per_transformer: int = 30, register_interval_minutes: int = 1440,
                         transformer_interval_minutes: int | None = None,
                         anomaly_rate: float = 0.01,
                         areas_per_batch: int = 1) -> Iterator[SampleBatch]:
    """Generate a utility one batch of whole transformer areas at a time.

    Parameters are those of `generate_utility`, plus ``areas_per_batch`` (transformer areas per
    yielded batch). Memory is bounded by one batch: about 50 bytes per reading row, so a
    30-meter area over three years at 15 minutes is ~200 MB at peak while it is built.

    Yields
    ------
    SampleBatch
        Concatenating all batches' frames gives exactly `generate_utility`'s frames (its
        truth sorted by asset and start).
    """
    if areas_per_batch < 1:
        raise ConfigError(f"areas_per_batch={areas_per_batch}; need at least 1")
    ctx = _prepare(_config(meters, years, seed, interval_minutes, meters_per_transformer,
                           register_interval_minutes, transformer_interval_minutes,
                           anomaly_rate))
    yield from _iter_batches(ctx, areas_per_batch)


def generate_utility(*, meters: int = 300, years: tuple[int, ...] | list[int] = (2023, 2024,
                                                                                2025),
                     seed: int = DEFAULT_SEED, interval_minutes: int = 15,
                     meters_per_transformer: int = 30, register_interval_minutes: int = 1440,
                     transformer_interval_minutes: int | None = None,
                     anomaly_rate: float = 0.01) -> SampleUtility:
    """Generate a whole sample utility in memory.

    Parameters
    ----------
    meters : int
        Customer meters. Areas are formed in the repeating order residential, residential,
        commercial, residential, industrial.
    years : sequence of int
        Contiguous calendar years, local time (Asia/Shanghai).
    seed : int
        Seed of every random stream; equal arguments give identical frames.
    interval_minutes : int
        Interval of energy and transformer series (5, 10, 15, 30 or 60).
    meters_per_transformer : int
        Meters in a residential area (commercial areas 40 %, industrial 10 % of it).
    register_interval_minutes : int
        Register reading period (default daily freeze at local midnight, as in State Grid's
        acquisition systems; 60 gives hourly readings).
    transformer_interval_minutes : int, optional
        Reporting period of the transformer terminals (default ``interval_minutes``); 60
        reports the instantaneous value at the top of each hour (State Grid's 24-point curves).
    anomaly_rate : float
        Meters per anomaly kind as a share of all meters (at least one per kind; 0 disables
        meter-level injections).

    Returns
    -------
    SampleUtility
        300 meters x 3 years at 15 minutes is ~50 million rows (~1.7 GB of frames, ~8 s on
        one core); use `iter_utility_batches` for larger utilities.
    """
    config = _config(meters, years, seed, interval_minutes, meters_per_transformer,
                     register_interval_minutes, transformer_interval_minutes, anomaly_rate)
    ctx = _prepare(config)
    batches = list(_iter_batches(ctx, areas_per_batch=1))
    return SampleUtility(
        config,
        pl.concat([b.assets for b in batches]),
        pl.concat([b.readings for b in batches], rechunk=False),
        _sorted_truth(pl.concat([b.truth for b in batches])),
        ctx.weather.frame(ctx.axis, ctx.calendar),
    )


def _sorted_truth(truth: pl.DataFrame) -> pl.DataFrame:
    if truth.is_empty():
        return pl.DataFrame(schema=TRUTH_SCHEMA)
    return truth.sort(["asset_id", "start", "kind", "metric"])

