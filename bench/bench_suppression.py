"""Joint suppression of notebook 08's tables: seconds, MIP solves and hidden cells per table (issue 23).

Usage::

    python bench/bench_suppression.py capture [--customers 1500] [--base DIR] [--out FILE]
    python bench/bench_suppression.py replay FILE [--only N] [--no-incremental] [--one-per-round]

``capture`` prepares a synthetic run through notebooks 01-07 (:func:`bench_attacker.build`, reused when
built before), runs notebook 08's stage calls (``campaign_run``, ``segment_kpis``) and pickles the arguments
of every :func:`workbench.privacy.suppress_jointly` call they make (the table's counts and every table
registered before it), with the hidden cells the code of the time chose. ``replay`` times
``suppress_jointly`` on each captured call alone (same inputs on any commit: the before/after figure),
counts the HiGHS solves, compares the hidden cells with the captured ones and attacks each result with the
integer attacker (:func:`workbench.privacy.joint_disclosure` over the earlier tables and the new one).
"""

from __future__ import annotations

import argparse
import inspect
import json
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def capture(customers: int, base: Path, out: Path) -> None:
    """Run notebook 08's stage calls on a prepared run and pickle every ``suppress_jointly`` call."""
    import workbench
    from bench_attacker import build
    from workbench import campaign
    from workbench.privacy import publish

    done = base / "summary" / "07_built_for_bench"
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)
        build(base, customers)
        done.write_text(str(customers))
    work = Path(tempfile.mkdtemp()) / "run"
    shutil.copytree(base, work)
    calls, original = [], publish.suppress_jointly

    def recording(*args, **kwargs):
        start = time.perf_counter()
        table = original(*args, **kwargs)
        calls.append({"args": args, "kwargs": kwargs, "hidden": table.isna().to_numpy(),
                      "seconds": time.perf_counter() - start})
        return table

    publish.suppress_jointly = recording
    run = workbench.open_run(str(work))
    start = time.perf_counter()
    campaign.campaign_run(run)
    campaign.segment_kpis(run)
    print(f"notebook 08 stage calls: {time.perf_counter() - start:.1f} s, {len(calls)} suppressions")
    out.write_bytes(pickle.dumps(calls))
    shutil.rmtree(work.parent)


def replay(path: Path, incremental: bool, batch: bool, only: int | None = None) -> None:
    """Time ``suppress_jointly`` on each captured call; hidden cells and the attacker's verdict."""
    import pandas as pd

    from bench_attacker import _counted
    from workbench.privacy import _joint, joint_disclosure

    calls = pickle.loads(path.read_bytes())
    calls = calls if only is None else calls[only:only + 1]
    stats = _counted()
    rows = []
    signature = inspect.signature(_joint.suppress_jointly)
    for call in calls:
        for key in stats:
            stats[key] = 0
        bound = signature.bind(*call["args"], **call["kwargs"])
        bound.apply_defaults()
        a = dict(bound.arguments, incremental=incremental, **({} if batch else {"batch": False}))
        wall, cpu = time.perf_counter(), time.process_time()
        table = _joint.suppress_jointly(**a)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        solves, models = stats["solves"], stats["models"]
        hidden = table.isna().to_numpy()
        full = _joint._table_with_margins(a["counts"]).to_numpy()
        new = _joint._long_form("new table", table, a["row_dim"], a["col_dim"], a["population"], a["within"])
        check = joint_disclosure(pd.concat([a["published"].reindex(columns=_joint.LONG_COLUMNS), new]),
                                 a["k"], a["width"])
        rows.append({"table": f"{a['row_dim']} x {a['col_dim']}", "cells": int(hidden.size), "wall_s": round(wall, 2),
                     "cpu_s": round(cpu, 2), "solves": solves, "models": models,
                     "hidden_before": int(call["hidden"].sum()), "hidden_after": int(hidden.sum()),
                     "value_before": int(full[call["hidden"]].sum()), "value_after": int(full[hidden].sum()),
                     "same_cells": bool((hidden == call["hidden"]).all()), "recoverable": check.recoverable})
        print(json.dumps(rows[-1]), flush=True)
    total = {key: sum(r[key] for r in rows) for key in ("wall_s", "cpu_s", "solves", "hidden_before",
                                                        "hidden_after", "value_before", "value_after", "recoverable")}
    print(json.dumps({"total": {k: round(v, 1) for k, v in total.items()}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("--customers", type=int, default=1500)
    cap.add_argument("--base", type=Path, default=Path(tempfile.gettempdir()) / "bench_attacker_base")
    cap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench_suppression.pkl")
    rep = sub.add_parser("replay")
    rep.add_argument("file", type=Path)
    rep.add_argument("--no-incremental", action="store_true")
    rep.add_argument("--only", type=int, help="replay only this call (0-based)")
    rep.add_argument("--one-per-round", action="store_true", help="batch=False: one complement per attack")
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.customers, args.base, args.out)
    else:
        replay(args.file, not args.no_incremental, not args.one_per_round, args.only)


if __name__ == "__main__":
    main()
