"""Argument checks of the public kernel functions: validate once, at the boundary.

The private ``_kernel`` functions trust their input (float64, C-contiguous, offsets that start
at 0, end at ``len(values)`` and never decrease); the helpers below make it so or raise a
:class:`~griddiag.exceptions.ConfigError` that names the value, the valid range and the fix.
"""

from __future__ import annotations

import numpy as np

from griddiag.exceptions import ConfigError

__all__ = [
    "as_batch",
    "as_bool_array",
    "as_float_array",
    "as_int_array",
    "check_fraction",
    "check_nonnegative",
    "check_offsets",
    "check_positive_int",
    "per_series",
]


def as_float_array(a, name: str, *, length: int | None = None) -> np.ndarray:
    """``a`` as a 1-D, C-contiguous float64 array (copy only when needed)."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be 1-D, got shape {arr.shape}; concatenate the series "
                          "and pass `offsets` to mark where each starts")
    if arr.dtype.kind not in "biuf":
        raise ConfigError(f"{name} must be numeric (float64 preferred), got dtype {arr.dtype}")
    if length is not None and arr.shape[0] != length:
        raise ConfigError(f"{name} has {arr.shape[0]} elements, expected {length} "
                          "(one per value)")
    return np.ascontiguousarray(arr, dtype=np.float64)


def as_int_array(a, name: str, *, length: int | None, dtype=np.int64, low: int | None = None,
                 high: int | None = None) -> np.ndarray:
    """``a`` as a 1-D C-contiguous integer array of ``length`` elements (``None``: any) in
    ``[low, high)``; floats are refused, not truncated."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be a 1-D integer array, got shape {arr.shape}")
    if length is not None and arr.shape[0] != length:
        raise ConfigError(f"{name} must be 1-D with {length} elements (one per value), "
                          f"got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ConfigError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.shape[0] and (low is not None or high is not None):  # two passes: only when asked
        lo, hi = int(arr.min()), int(arr.max())
        if (low is not None and lo < low) or (high is not None and hi >= high):
            raise ConfigError(f"{name} must lie in [{low}, {high}), got values in [{lo}, {hi}]")
    return np.ascontiguousarray(arr, dtype=dtype)


def as_bool_array(a, name: str) -> np.ndarray:
    """``a`` as a 1-D, C-contiguous bool array (numbers: non-zero is True)."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ConfigError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "biu":
        raise ConfigError(f"{name} must be bool (or 0/1 integers), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.bool_)


def as_batch(values, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert a batch: ``(values float64, offsets int64)``.

    ``offsets`` has ``n_series + 1`` elements; series ``i`` is ``values[offsets[i]:offsets[i+1]]``.
    ``offsets=None`` means one series holding all values.
    """
    vals = as_float_array(values, "values")
    return vals, check_offsets(offsets, vals.shape[0])


def offsets_from_lengths(lengths) -> np.ndarray:
    """The batch layout's ``offsets`` (int64, ``len(lengths) + 1``, starting at 0) of
    consecutive pieces of the given lengths: piece ``i`` is ``[offsets[i], offsets[i + 1])``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def check_offsets(offsets, n: int) -> np.ndarray:
    """``offsets`` as int64, checked against ``n`` values (``None``: one series)."""
    if offsets is None:
        return np.array([0, n], dtype=np.int64)
    off = np.asarray(offsets)
    if off.ndim != 1 or off.shape[0] < 1:
        raise ConfigError(f"offsets must be 1-D with n_series + 1 >= 1 elements, got shape "
                          f"{off.shape}; use [0, len(values)] for a single series")
    if off.dtype.kind not in "iu":
        raise ConfigError(f"offsets must be integers, got dtype {off.dtype}")
    off = np.ascontiguousarray(off, dtype=np.int64)
    if off[0] != 0 or off[-1] != n:
        raise ConfigError(f"offsets must start at 0 and end at len(values) = {n}, got "
                          f"{int(off[0])} ... {int(off[-1])}")
    if off.shape[0] > 1:
        steps = np.diff(off)
        if (steps < 0).any():
            i = int(np.flatnonzero(steps < 0)[0])
            raise ConfigError(f"offsets must not decrease: offsets[{i}] = {int(off[i])} > "
                              f"offsets[{i + 1}] = {int(off[i + 1])}")
    return off


def per_series(a, name: str, n_series: int) -> np.ndarray:
    """A scalar or one float per series, as a float64 array of ``n_series`` elements."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n_series, float(arr), dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n_series:
        raise ConfigError(f"{name} must be a scalar or have one value per series "
                          f"({n_series}), got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def check_positive_int(x, name: str, *, minimum: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {x!r}")
    return int(x)


def check_nonnegative(x, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number >= 0, got {x!r}") from None
    if not v >= 0.0:  # also refuses NaN
        raise ConfigError(f"{name} must be a number >= 0, got {x!r}")
    return v


def check_fraction(x, name: str) -> float:
    v = check_nonnegative(x, name)
    if v > 1.0:
        raise ConfigError(f"{name} must lie in [0, 1], got {x!r}")
    return v
