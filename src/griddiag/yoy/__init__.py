"""Year-over-year diagnostics: how this year differs from earlier years, and why.

Public entry point :func:`compare_years` (``griddiag.compare_years``). Building blocks for the
inspection job, which calls them batch by batch:

- :func:`hourly_aggregate` (readings -> local-hour sums/counts; a TimescaleDB store can give
  the same with ``time_bucket``),
- :func:`yearly_summary` (hourly -> one summary row per asset, metric and local year),
- :func:`group_summaries` (member summaries -> transformer / feeder / class summaries),
- :func:`compare_summaries` (current vs baseline summaries -> measures with p-values),
- :func:`finalize` (all batches' measures -> q-values, significance, ranks: the yoy frame).

Modules: :mod:`.calendar` (like-with-like day pairs, holidays, Spring Festival),
:mod:`.summary`, :mod:`.compare`, :mod:`.api`.
"""

from __future__ import annotations

from griddiag.yoy.api import GROUP_BY, compare_years, group_summaries
from griddiag.yoy.calendar import CALENDAR_VERSION, align_days
from griddiag.yoy.compare import Thresholds, bh_qvalues, compare_summaries, finalize
from griddiag.yoy.summary import hourly_aggregate, yearly_summary

__all__ = [
    "CALENDAR_VERSION",
    "GROUP_BY",
    "Thresholds",
    "align_days",
    "bh_qvalues",
    "compare_summaries",
    "compare_years",
    "finalize",
    "group_summaries",
    "hourly_aggregate",
    "yearly_summary",
]
