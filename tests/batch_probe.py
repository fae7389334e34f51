"""A batch function for :class:`griddiag.inspection.executor.ProcessExecutor` tests: it must
be importable by name in the batch process."""

from __future__ import annotations

import sys


def modules_at_start(store_url, asset_ids, params) -> list[str]:
    """Which of the profile's lazily imported modules the batch process had at its start."""
    return [m for m in params.profile.lazy_imports() if m in sys.modules]
