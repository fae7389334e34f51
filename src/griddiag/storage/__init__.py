"""Stores: the embedded Parquet directory (default) and TimescaleDB, behind one interface.

``open_store(url)`` picks the backend from the URL: ``postgresql://`` / ``postgres://`` opens
TimescaleDB; a directory path or ``file://`` URL opens the Parquet store. With no URL the
``GRIDDIAG_STORE`` environment variable is used, else ``./griddiag-data``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from griddiag.exceptions import ConfigError
from griddiag.storage.base import OnConflict, Store, WriteResult

__all__ = ["DEFAULT_STORE", "OnConflict", "Store", "WriteResult", "open_store", "redact_url",
           "resolve_store_url"]

DEFAULT_STORE = "./griddiag-data"

_PASSWORD_RE = re.compile(r"(://[^:/@]+:)([^@]*)(@)|(password\s*=\s*)(\S+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``: safe for logs and error messages."""
    return _PASSWORD_RE.sub(
        lambda m: f"{m.group(1)}***{m.group(3)}" if m.group(1) else f"{m.group(4)}***", url
    )


def resolve_store_url(url: str | os.PathLike[str] | None = None) -> str:
    if url is None or str(url) == "":
        url = os.environ.get("GRIDDIAG_STORE") or DEFAULT_STORE
    return str(url)


def open_store(url: str | os.PathLike[str] | None = None, *, create: bool = True) -> Store:
    """Open the store named by ``url`` (see module docstring).

    ``create`` lets an embedded store be created on first use; TimescaleDB needs
    ``griddiag db init`` (``Store.init()``) once.
    """
    url = resolve_store_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        from griddiag.storage.timescale import TimescaleStore

        return TimescaleStore(url)
    if "://" in url and not url.startswith("file://"):
        raise ConfigError(
            f"store URL {redact_url(url)!r} has an unknown scheme; use a directory path, "
            "file://PATH or postgresql://..."
        )
    from griddiag.storage.parquet import ParquetStore

    path = Path(url.removeprefix("file://"))
    return ParquetStore(path, create=create)
