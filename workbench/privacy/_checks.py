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
        ``check``, ``passed``, ``detail`` (see :func:`checks_from_facts`).
    """
    ids = customers["customer_id"].astype(str)
    facts = {"columns": list(customers.columns), "customers": len(ids),
             "not_pseudonyms": int((~ids.str.fullmatch(r"p[0-9a-f]{16}")).sum()),
             "duplicate_ids": int(ids.duplicated().sum()), "scan": identifier_scan(customers)}
    if transactions is not None:
        tx = transactions
        facts["transactions"] = len(tx)
        facts["unknown_customer_transactions"] = int((~tx["customer_id"].isin(set(ids))).sum())
        facts["invalid_transactions"] = int(
            (tx["timestamp"].isna() | ~np.isfinite(tx["amount"].to_numpy(dtype=float))).sum())
    return checks_from_facts(prep, facts)


def checks_from_facts(prep: dict, facts: dict) -> pd.DataFrame:
    """The checks from counts over the prepared tables (from pandas, or from the engine's queries).

    Parameters
    ----------
    prep : dict
        ``data/prepare.json`` (``inventory``, ``counts``).
    facts : dict
        ``columns`` (the prepared customer table's), ``customers``, ``not_pseudonyms`` and
        ``duplicate_ids`` (counts of ids), ``scan`` (:func:`identifier_scan` of the table or of a
        sample of it; optionally ``scan_note``, which, shown in the check's detail) and, with
        transactions, ``transactions``, ``unknown_customer_transactions`` and ``invalid_transactions``
        (no timestamp, or an amount that is not a finite number).

    Returns
    -------
    DataFrame
        ``check``, ``passed``, ``detail``.
    """
    with_tx = "transactions" in facts
    inv = pd.DataFrame(prep["inventory"])
    rows = [
        ("input: every role's column present, ids present and unique, consent flags readable",
         True, "checked at load (pandera); a failure stops the run"),
    ]
    if with_tx:
        rows.append(("input: transactions have a customer id, a valid timestamp and a numeric amount",
                     True, "checked at load (pandera)"))
    rows.append(("customer ids are keyed pseudonyms (p + 16 hex digits)",
                 facts["not_pseudonyms"] == 0, f"{facts['customers']:,} customers"))
    rows.append(("pseudonyms are unique (no collisions)", facts["duplicate_ids"] == 0, ""))
    columns = facts["columns"]
    dropped_direct = inv.loc[inv["role"].str.contains("direct_identifier"), "column"].tolist() if len(inv) else []
    present = [c for c in dropped_direct if c in columns]
    rows.append(("direct identifiers dropped", not present,
                 f"{len(dropped_direct)} declared: {', '.join(dropped_direct) or 'none'}"))
    kept = inv.loc[inv["kept"], "column"].tolist() if len(inv) else []
    kept += [r["kept_as"] for r in (prep.get("consent") or {}).values() if r.get("kept_as")]
    unexpected = [c for c in columns if c != "customer_id" and c not in kept]
    rows.append(("only columns with a declared purpose kept", not unexpected,
                 f"{len(columns) - 1} kept" + (f"; unexpected: {unexpected}" if unexpected else "")))
    scan = facts["scan"]
    flagged = ", ".join(scan["column"]) if len(scan) else ""
    rows.append(("no kept column looks like emails or phone numbers", scan.empty,
                 "; ".join(part for part in (flagged, facts.get("scan_note", "")) if part)))
    counts = prep["counts"]
    rows.append(("opted-out and erased customers removed", counts["customers_kept"] == facts["customers"],
                 f"{counts['opted_out_of_profiling']:,} opted out, {counts['erased']:,} erased"))
    if with_tx:
        rows.append(("every transaction belongs to a kept customer", facts["unknown_customer_transactions"] == 0,
                     f"{facts['transactions']:,} transactions"))
        rows.append(("transaction timestamps and amounts are valid", facts["invalid_transactions"] == 0, ""))
    return pd.DataFrame(rows, columns=["check", "passed", "detail"])
