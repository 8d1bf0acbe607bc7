"""Keyed stores: a table sorted by pseudonym, memory-mapped, whose rows for some customers are read without a scan.

An incremental batch touches ~1% of the customers, at random: their rows sit in every Parquet row
group, so a semi-join still scans the whole table, and the scan grows with the base, not with the
batch. A keyed store is the table sorted by its key as an uncompressed Arrow IPC file, beside the
sorted distinct keys and where each key's rows start (``keys.npy``, ``starts.npy``). Reading the rows
of ``m`` customers is ``m`` binary searches and a ``take`` from the memory-mapped file: only the
pages holding those rows are read. Built once per run (with the history's seed), never rewritten.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

_ROWS, _KEYS, _STARTS = "rows.arrow", "keys.npy", "starts.npy"


def write_keyed(table, folder: Path, key: str = "customer_id") -> Path:
    """Write ``table`` (a pyarrow Table) sorted by ``key`` as a keyed store in ``folder`` (replaced whole)."""
    import pyarrow as pa

    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    table = table.sort_by(key)
    keys = np.asarray(table.column(key).to_numpy(zero_copy_only=False), dtype=object).astype(bytes)
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
    np.save(tmp / _KEYS, keys[first])
    np.save(tmp / _STARTS, np.r_[first, len(keys)].astype(np.int64))
    with pa.OSFile(str(tmp / _ROWS), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, folder)
    return folder


def has_keyed(folder: Path) -> bool:
    return (Path(folder) / _STARTS).exists()


def _positions(folder: Path, ids) -> tuple[np.ndarray, np.ndarray]:
    keys = np.load(Path(folder) / _KEYS, mmap_mode="r")
    wanted = np.asarray(ids, dtype=object).astype(bytes) if len(ids) else np.zeros(0, dtype=keys.dtype)
    if not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    order = np.argsort(wanted, kind="stable")  # sorted needles: the searches walk the mapped keys in order
    pos = np.empty(len(wanted), dtype=np.int64)
    pos[order] = np.minimum(np.searchsorted(keys, wanted[order]), len(keys) - 1)
    hit = keys[pos] == wanted
    return np.unique(pos[hit]), hit


def known(folder: Path, ids) -> np.ndarray:
    """Whether each of ``ids`` has rows in the store (a boolean mask in the order of ``ids``)."""
    return _positions(folder, ids)[1]


def read_keyed(folder: Path, ids, columns: list[str] | None = None, key: str = "customer_id"):
    """The rows of ``ids`` (a pyarrow Table of ``columns``, default all, in key order; unknown ids have none)."""
    import pyarrow as pa

    pos, _ = _positions(folder, ids)
    starts = np.load(Path(folder) / _STARTS, mmap_mode="r")
    lo, hi = np.asarray(starts[pos]), np.asarray(starts[pos + 1])
    counts = hi - lo
    rows = np.repeat(lo - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    table = pa.ipc.open_file(pa.memory_map(str(Path(folder) / _ROWS))).read_all()
    names = table.schema.names if columns is None else list(columns)
    # only these columns' pages are read by the take; the key is not read at all: each row's key is its
    # customer's, known from the sorted keys (the key column's offsets and text would be a third of the pages)
    out = table.select([c for c in names if c != key]).take(pa.array(rows, type=pa.int64()))
    if key not in names:
        return out
    keys = np.load(Path(folder) / _KEYS, mmap_mode="r")
    column = pa.array(np.repeat(np.asarray(keys[pos]), counts).astype(str), type=table.schema.field(key).type)
    return out.add_column(names.index(key), table.schema.field(key), column).select(names)
