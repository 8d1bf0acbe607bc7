"""Checks of prepared data against the privacy rules (pseudonyms, minimisation, consent applied)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._risk import identifier_scan


def prepared_data_checks(prep: dict, customers: pd.DataFrame, transactions: pd.DataFrame | None) -> pd.DataFrame:
    """The checks the input passed at load, and checks of the prepared tables against the privacy rules.

    Parameters
    ----------
    prep : dict
        ``data/prepare.json`` (``inventory``, ``counts``).
    customers, transactions : DataFrame
        The prepared tables (``transactions`` may be None).

    Returns
    -------
    DataFrame
        ``check``, ``passed``, ``detail``.
    """
    tx = transactions
    inv = pd.DataFrame(prep["inventory"])
    rows = [
        ("input: every role's column present, ids present and unique, consent flags readable",
         True, "checked at load (pandera); a failure stops the run"),
    ]
    if tx is not None:
        rows.append(("input: transactions have a customer id, a valid timestamp and a numeric amount",
                     True, "checked at load (pandera)"))
    ids = customers["customer_id"].astype(str)
    rows.append(("customer ids are keyed pseudonyms (p + 16 hex digits)",
                 bool(ids.str.fullmatch(r"p[0-9a-f]{16}").all()), f"{len(ids):,} customers"))
    rows.append(("pseudonyms are unique (no collisions)", bool(ids.is_unique), ""))
    dropped_direct = inv.loc[inv["role"].str.contains("direct_identifier"), "column"].tolist() if len(inv) else []
    present = [c for c in dropped_direct if c in customers.columns]
    rows.append(("direct identifiers dropped", not present,
                 f"{len(dropped_direct)} declared: {', '.join(dropped_direct) or 'none'}"))
    kept = inv.loc[inv["kept"], "column"].tolist() if len(inv) else []
    kept += [r["kept_as"] for r in (prep.get("consent") or {}).values() if r.get("kept_as")]
    unexpected = [c for c in customers.columns if c != "customer_id" and c not in kept]
    rows.append(("only columns with a declared purpose kept", not unexpected,
                 f"{len(customers.columns) - 1} kept" + (f"; unexpected: {unexpected}" if unexpected else "")))
    scan = identifier_scan(customers)
    rows.append(("no kept column looks like emails or phone numbers", scan.empty,
                 ", ".join(scan["column"]) if len(scan) else ""))
    counts = prep["counts"]
    rows.append(("opted-out and erased customers removed",
                 counts["customers_kept"] == len(customers),
                 f"{counts['opted_out_of_profiling']:,} opted out, {counts['erased']:,} erased"))
    if tx is not None:
        known = tx["customer_id"].isin(set(ids))
        rows.append(("every transaction belongs to a kept customer", bool(known.all()),
                     f"{len(tx):,} transactions"))
        rows.append(("transaction timestamps and amounts are valid",
                     bool(tx["timestamp"].notna().all() and np.isfinite(tx["amount"].to_numpy(dtype=float)).all()), ""))
    return pd.DataFrame(rows, columns=["check", "passed", "detail"])
