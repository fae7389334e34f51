"""griddiag's exceptions: one hierarchy, mapped to CLI exit codes at the edge.

::

    GriddiagError                 base; never raised directly
    ├── ConfigError               bad arguments, option values, profile or config file  (exit 2)
    └── DataError                 input or store problems                               (exit 3)
        ├── InputError            a file that cannot be read or understood at all
        └── StoreError            the store cannot be opened, read or written
            └── SchemaError       the store's schema is missing or newer than this griddiag

Row-level problems while ingesting are *not* exceptions: those rows are quarantined with a
reason and the good rows are loaded. An exception means nothing could be done.

Driver exceptions (psycopg, OS errors, polars) are translated into these at the storage and
ingest boundaries with ``raise ... from exc`` so callers only ever catch griddiag errors.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "GriddiagError",
    "InputError",
    "SchemaError",
    "StoreError",
]


class GriddiagError(Exception):
    """Base class of every error griddiag raises on purpose."""

    exit_code = 3


class ConfigError(GriddiagError):
    """A usage or configuration mistake: an option, profile or config value is invalid."""

    exit_code = 2


class DataError(GriddiagError):
    """Input data or the store could not be used."""

    exit_code = 3


class InputError(DataError):
    """An input file that cannot be read at all (missing, empty, unknown encoding or layout).

    The message names the file and, where known, the row (1-based line number in the file) and
    the field, so the user can open the file at the right place.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        self.field = field
        where = [p for p in (path, f"row {row}" if row is not None else None,
                             f"field {field!r}" if field else None) if p]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class StoreError(DataError):
    """The store cannot be opened, read or written. Never contains a password."""


class SchemaError(StoreError):
    """The store has no griddiag schema yet (run ``griddiag db init``) or a newer one."""
