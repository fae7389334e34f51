"""The annual inspection job: a whole store through detect and compare into the report.

``griddiag.inspect(store, year=...)`` (:func:`griddiag.inspection.job.inspect`) is the
product as a utility runs it: see :mod:`griddiag.inspection.job` for the batching, the
statuses new/recurring/resolved and the guarantees for a scheduler, and
:mod:`griddiag.inspection.charts` for the chart data handed to the report.
"""

from griddiag.inspection.job import InspectionResult, ProgressFn, inspect, scope_of

__all__ = ["InspectionResult", "ProgressFn", "inspect", "scope_of"]
