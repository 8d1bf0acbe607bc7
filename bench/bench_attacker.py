"""The disclosure attacker's share of notebook 08: seconds, CPU seconds and HiGHS solves (issue 23).

Usage::

    python bench/bench_attacker.py [--customers 1500] [--base DIR] [--profile FILE]

Prepares a synthetic run (``configs/synthetic.yaml`` with ``--customers``) through the stages of notebooks
01-07 into ``--base`` (kept, and reused when built before), copies it, then times
notebook 08's stage calls (``campaign_run``, ``segment_kpis``: the campaign tables suppressed against every
table published before them) and the whole-run disclosure check of notebook 06 over the result. Counts
the HiGHS models built and solves run (:class:`workbench.privacy._ranges.RangeSolver`) and the seconds inside
the integer attack (:func:`workbench.privacy._attack.integer_intervals`). With ``--profile`` the stage
calls run under cProfile (written to FILE). Run it on an older commit for the before figure.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(base: Path, customers: int) -> None:
    """A synthetic run through notebooks 01-07's stage calls."""
    from workbench import dynamics, explain, fairness, privacy, segment, value
    from workbench.data import load_config
    from workbench.pipeline._prepare import prepare

    cfg = load_config(config=str(ROOT / "configs" / "synthetic.yaml"),
                      overrides=[f"dataset.params.n_customers={customers}"])
    run = prepare(cfg, str(base))
    privacy.privacy_audit_run(run)
    segment.segment_run(run)
    explain.explain_run(run)
    fairness.fairness_run(run)
    dynamics.dynamics_run(run)
    privacy.private_release_run(run)
    value.value_run(run)
    value.growth_by_segment(run)
    value.targeting_audit(run)
    value.p_alive_by_state(run)


def _counted() -> dict:
    """Wrap the solver and the attack so that they count (a measurement, not a change of behaviour)."""
    from workbench.privacy import _attack, _joint, _ranges, _suppression

    stats = {"models": 0, "solves": 0, "attack_s": 0.0}
    solve, init, attack = _ranges.RangeSolver.solve_objective, _ranges.RangeSolver.__init__, _attack.integer_intervals

    def counted_solve(self, cost):
        stats["solves"] += 1
        return solve(self, cost)

    def counted_init(self, *args, **kwargs):
        stats["models"] += 1
        init(self, *args, **kwargs)

    def timed_attack(*args, **kwargs):
        start = time.perf_counter()
        try:
            return attack(*args, **kwargs)
        finally:
            stats["attack_s"] += time.perf_counter() - start

    _ranges.RangeSolver.solve_objective, _ranges.RangeSolver.__init__ = counted_solve, counted_init
    _suppression.integer_intervals = _joint.integer_intervals = timed_attack
    return stats


def _timed(stats: dict, call, profile: str | None = None) -> dict:
    for key in stats:
        stats[key] = 0
    profiler = cProfile.Profile() if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    call()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    return {"wall_s": round(time.perf_counter() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1),
            **{k: round(v, 1) for k, v in stats.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--base", type=Path, default=Path(tempfile.gettempdir()) / "bench_attacker_base")
    parser.add_argument("--profile")
    args = parser.parse_args()
    import workbench
    from workbench import campaign, privacy

    done = args.base / "summary" / "07_built_for_bench"
    if not done.exists():
        shutil.rmtree(args.base, ignore_errors=True)
        build(args.base, args.customers)
        done.write_text(str(args.customers))
    work = Path(tempfile.mkdtemp()) / "run"
    shutil.copytree(args.base, work)
    run = workbench.open_run(str(work))
    stats = _counted()
    stage = _timed(stats, lambda: (campaign.campaign_run(run), campaign.segment_kpis(run)), args.profile)
    check = _timed(stats, lambda: privacy.disclosure_check(run))
    print(json.dumps({"notebook 08 stage calls": stage, "whole-run check": check,
                      "check": json.loads((work / "summary" / "disclosure.json").read_text())}, indent=1))
    shutil.rmtree(work.parent)


if __name__ == "__main__":
    main()
