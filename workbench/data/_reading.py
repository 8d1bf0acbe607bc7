"""Reading what CRMs really export: encodings, delimiters, header spelling, ids as text.

A CRM export is rarely the clean UTF-8, comma-separated file a tutorial reads. :func:`read_table`
detects the encoding (UTF-8 with or without a byte-order mark, else Windows-1252, else Latin-1) and the
delimiter (``,`` ``;`` tab ``|``: the one the header line uses most), unless the config sets them
(``dataset.encoding``, ``dataset.delimiter``). Headers are matched to the roles' column names ignoring
case and surrounding spaces, and renamed to the names the config uses. Id columns are always read as
text, so ``00042`` stays ``00042`` (pseudonyms then match the CRM's ids, and an erasure request naming
``00042`` finds that customer). Both choices are recorded in :attr:`TableRead.how`, which
``data/prepare.json`` keeps, and every error names them.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ._schema import InputError

__all__ = ["DELIMITERS", "ENCODINGS", "describe_read", "match_headers", "read_table", "sniff_csv"]

#: Encodings tried in order. ``utf-8-sig`` reads plain UTF-8 too (the byte-order mark is optional);
#: cp1252 fails on five undefined bytes, where Latin-1, which reads any byte, takes over.
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 1 << 20


def describe_read(read: dict | None) -> str:
    """Words for how a table was read, from its ``attrs["read"]``."""
    return TableRead(**read).describe() if read else ""


@dataclass
class TableRead:
    """How a file was read: ``encoding`` and ``delimiter`` (None for Parquet)."""

    encoding: str | None = None
    delimiter: str | None = None

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "delimiter": self.delimiter}

    def describe(self) -> str:
        if self.encoding is None:
            return "read as Parquet"
        return f"read as {self.encoding}, {DELIMITERS.get(self.delimiter, repr(self.delimiter))}-delimited"


def _decodes(raw: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(raw, final=False)  # final=False: a sample may end inside a character
        return True
    except UnicodeDecodeError:
        return False


def sniff_csv(path: Path, encoding: str | None = None, delimiter: str | None = None) -> TableRead:
    """Detect a CSV file's encoding and delimiter (each unless given).

    Parameters
    ----------
    path : Path
    encoding, delimiter : str, optional
        Set in the config: used as given.

    Returns
    -------
    TableRead
    """
    with open(path, "rb") as fh:
        raw = fh.read(_SNIFF_BYTES)
    if encoding is None:
        encoding = next(e for e in ENCODINGS if _decodes(raw, e))
    if delimiter is None:
        text = raw.decode(encoding, errors="replace")
        header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    return TableRead(encoding=encoding, delimiter=delimiter)


def _norm(name: object) -> str:
    return str(name).strip().casefold()


def match_headers(headers: list, wanted: list[str]) -> dict:
    """Map a file's headers onto the wanted column names, ignoring case and surrounding spaces.

    Returns ``{header in file: wanted name}`` for the headers that differ only in spelling; exact
    matches and headers no role names are left alone.
    """
    by_norm = {_norm(w): w for w in wanted}
    exact = set(headers)
    rename = {}
    for h in headers:
        target = by_norm.get(_norm(h))
        if target is not None and h != target and target not in exact:
            rename[h] = target
    return rename


def _read_csv(path: Path, how: TableRead, text_columns: list[str]) -> pd.DataFrame:
    head = pd.read_csv(path, nrows=0, encoding=how.encoding, sep=how.delimiter)
    wanted = {_norm(c) for c in text_columns}
    dtype = {h: str for h in head.columns if _norm(h) in wanted}
    # keep_default_na stays on: blank cells are missing; an id "NA" is then missing too, and reported.
    return pd.read_csv(path, encoding=how.encoding, sep=how.delimiter, dtype=dtype)


def read_table(
    path: str | Path,
    table: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    columns: list[str] | None = None,
    text_columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV or Parquet table, turning unreadable or empty files into :class:`InputError`.

    Parameters
    ----------
    path : str or Path
    table : str
        The table's name in messages ("customers", "transactions", "labels").
    encoding, delimiter : str, optional
        CSV only; detected when not given (see :func:`sniff_csv`).
    columns : list of str, optional
        Column names the roles use: headers differing only in case or surrounding spaces are renamed.
    text_columns : list of str, optional
        Columns read as text whatever they look like (ids: leading zeros survive).

    Returns
    -------
    DataFrame
        With ``attrs["read"]`` how it was read (``encoding``, ``delimiter``; both None for Parquet).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"Input error in table '{table}': file {path} does not exist. "
            "Check the path in the config (relative paths are relative to the config file)."
        )
    parquet = path.suffix.lower() in {".parquet", ".pq"}
    how = TableRead() if parquet else sniff_csv(path, encoding, delimiter)
    try:
        df = pd.read_parquet(path) if parquet else _read_csv(path, how, text_columns or [])
    except pd.errors.EmptyDataError:
        raise InputError(
            f"Input error in table '{table}' ({path}): the file is empty (no header, no rows). "
            "Export the table again with a header line."
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"Input error in table '{table}' ({path}): the file is not {how.encoding} ({exc.reason} at "
            f"byte {exc.start}). Set the file's encoding in the config, e.g. `dataset.encoding: cp1252`."
        ) from None
    except Exception as exc:  # parser errors of every kind carry their own detail
        raise InputError(
            f"Input error in table '{table}' ({path}): the file cannot be "
            f"{'read as Parquet' if parquet else how.describe()}: {exc}. "
            + ("" if parquet else "Set `dataset.encoding` / `dataset.delimiter` in the config if the "
               "detected ones are wrong.")
        ) from None
    if df.empty:
        raise InputError(
            f"Input error in table '{table}' ({path}): the file has a header but no rows. "
            "Export the table again with its data."
        )
    df = df.rename(columns=match_headers(list(df.columns), list(columns or [])))
    for col in text_columns or []:  # Parquet ids (and CSV ids after a rename) as text too
        if col in df.columns and not pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].astype("string").astype(object).where(df[col].notna())
    df.attrs["read"] = how.as_dict()
    return df
