"""Keyed stores: a table sorted by pseudonym, memory-mapped, whose rows for some customers are read without a scan.

An incremental batch touches ~1% of the customers, at random: their rows sit in every Parquet row
group, so a semi-join still scans the whole table, and the scan grows with the base, not with the
batch. A keyed store is the table sorted by its key as an uncompressed Arrow IPC file, beside the
sorted distinct keys and where each key's rows start (``keys.npy``, ``starts.npy``). Reading the rows
of ``m`` customers is ``m`` binary searches and a ``take`` from the memory-mapped file: only the
pages holding those rows are read. Built once per run (with the history's seed), never rewritten.

Pseudonyms are ``p`` and 16 hex digits (:func:`workbench.privacy.pseudonymise`): the sorted keys are
stored as the 64-bit numbers they spell (exact, one to one), so a search compares integers in an 8 MB
array at 1M customers instead of byte strings; keys of any other form are stored as byte strings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

_ROWS, _KEYS, _STARTS = "rows.arrow", "keys.npy", "starts.npy"
_HEX = re.compile(r"p[0-9a-f]{16}")


def _as_numbers(keys: np.ndarray) -> np.ndarray | None:
    """``p`` + 16 lower-case hex digits per key as uint64 (vectorised), or None when a key has another form."""
    raw = np.asarray(keys, dtype=object).astype(bytes) if np.asarray(keys).dtype.kind != "S" else np.asarray(keys)
    if raw.dtype.itemsize != 17:  # shorter keys are padded with NUL bytes, which fail the digit test below
        return None
    digits = np.ascontiguousarray(raw).view(np.uint8).reshape(-1, 17)
    hex_ = digits[:, 1:]
    if not ((digits[:, 0] == ord("p")).all() and (((hex_ >= 48) & (hex_ <= 57)) | ((hex_ >= 97) & (hex_ <= 102))).all()):
        return None
    nibbles = np.where(hex_ <= 57, hex_ - 48, hex_ - 87).astype(np.uint64)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    return np.bitwise_or.reduce(nibbles << shifts, axis=1)


def _as_texts(numbers: np.ndarray) -> np.ndarray:
    """The pseudonyms spelled by ``numbers`` (the inverse of :func:`_as_numbers`), as 17-byte strings (vectorised)."""
    nibbles = ((np.asarray(numbers, dtype=np.uint64)[:, None] >> np.arange(60, -4, -4, dtype=np.uint64))
               & np.uint64(15)).astype(np.uint8)
    out = np.empty((len(nibbles), 17), dtype=np.uint8)
    out[:, 0] = ord("p")
    out[:, 1:] = np.where(nibbles < 10, nibbles + 48, nibbles + 87)
    return out.view("S17").ravel()


def write_keyed(table, folder: Path, key: str = "customer_id") -> Path:
    """Write ``table`` (a pyarrow Table) sorted by ``key`` as a keyed store in ``folder`` (replaced whole)."""
    import pyarrow as pa

    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    table = table.sort_by(key)
    keys = np.asarray(table.column(key).to_numpy(zero_copy_only=False), dtype=object).astype(bytes)
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
    numbers = _as_numbers(keys[first]) if len(first) else None
    # sorted as text is sorted as numbers: same length, digits before letters in both
    np.save(tmp / _KEYS, keys[first] if numbers is None else numbers)
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
    if keys.dtype == np.uint64:
        numbers = _as_numbers(wanted) if len(wanted) else np.zeros(0, dtype=np.uint64)
        if numbers is None:  # some id is not a pseudonym: those match nothing, the rest are searched
            form = np.array([bool(_HEX.fullmatch(w.decode(errors="replace"))) for w in wanted], dtype=bool)
            pos, hit = _positions(folder, wanted[form].astype(object).astype(str))
            full = np.zeros(len(wanted), dtype=bool)
            full[form] = hit
            return pos, full
        wanted = numbers
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
    texts = _as_texts(keys[pos]) if keys.dtype == np.uint64 else np.asarray(keys[pos])
    column = pa.array(np.repeat(texts, counts)).cast(table.schema.field(key).type)  # bytes -> text: ASCII
    return out.add_column(names.index(key), table.schema.field(key), column).select(names)
