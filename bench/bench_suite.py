"""Where the researcher's loop spends its time: the default suite per run and notebook, and the test suite.

Usage::

    python bench/bench_suite.py suite [--out DIR]
    python bench/bench_suite.py tests [-- PYTEST ARGS]
    python bench/bench_suite.py imports

``suite`` runs ``workbench suite`` (``make run``) into a temporary folder (or ``--out``) and prints, per run
and notebook, wall time split into kernel start (paid once per run: one warm kernel executes a run's
notebooks), imports (cells that only import and open the run), the stage's own calls (every other
cell), HTML export, and per run ``prepare`` and ``audit.pdf``; and each notebook's CPU seconds in the
kernel (all its threads; the first notebook's include the kernel's imports), the figure to compare on a
loaded machine. Cell times come from nbclient's ``record_timing`` in each executed notebook; the rest
from ``manifest.json``.

``tests`` runs ``make test``'s two steps: the unit tests on two workers with ``--durations=0 -v`` (their
whole output is kept in ``.pytest-durations.txt``), then nbval alone. It prints the time per test module
(setup, call and teardown summed; with xdist these are the two workers' seconds, not wall time), the
seconds each worker spent per unit of work (tests/conftest.py's groups: what must run on one worker),
the slowest 15 tests and each step's wall time.

``imports`` times ``import workbench``, ``workbench --help`` and one import per stage package (median of
5 fresh processes each) against ``import pandas``.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_IMPORT_LINE = re.compile(r"^\s*(import \w|from [\w.]+ import |run = workbench\.open_run\(|#|$)")


def _seconds(cell: dict) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def notebook_split(ipynb: Path) -> dict:
    """Seconds of the notebook's cells that only import / open the run, and of every other cell."""
    nb = json.loads(ipynb.read_text())
    split = {"imports": 0.0, "stage": 0.0}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tags = cell.get("metadata", {}).get("tags", [])
        only_imports = all(_IMPORT_LINE.match(line) for line in source.splitlines())
        key = "imports" if only_imports or "parameters" in tags or "injected-parameters" in tags else "stage"
        split[key] += _seconds(cell)
    return split


def suite(out: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp:
        folder = out or Path(tmp)
        load = os.getloadavg()
        t0 = time.perf_counter()
        cmd = [str(BIN / "workbench"), "suite", "--out", str(folder)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        print(f"{'run':<13} {'notebook':<24} {'kernel':>7} {'imports':>8} {'stage':>7} {'export':>7} {'total':>7} "
              f"{'cpu':>7}")
        cpu_total = 0.0
        for manifest_path in sorted(folder.glob("*/manifest.json")):
            manifest = json.loads(manifest_path.read_text())
            run = manifest_path.parent.name
            for status in manifest["timings"]:
                name = status["notebook"]
                if name == "prepare":
                    print(f"{run:<13} {'prepare':<24} {'':>7} {'':>8} {status['seconds']:7.1f} {'':>7} "
                          f"{status['seconds']:7.1f}")
                    continue
                split = notebook_split(manifest_path.parent / f"{name}.ipynb")
                kernel = status.get("kernel_start_seconds", 0.0)
                export = status.get("export_seconds", 0.0)
                cpu = status.get("cpu_seconds", float("nan"))
                cpu_total += cpu if cpu == cpu else 0.0
                print(f"{run:<13} {name:<24} {kernel:7.1f} {split['imports']:8.1f} {split['stage']:7.1f} "
                      f"{export:7.1f} {status['seconds'] + kernel + export:7.1f} {cpu:7.1f}")
            pdf = manifest.get("pdf_seconds", 0.0)
            print(f"{run:<13} {'audit.pdf':<24} {'':>7} {'':>8} {'':>7} {pdf:7.1f} {pdf:7.1f}")
        print(f"suite wall time: {wall:.1f} s; kernels' CPU seconds (the notebooks' own work): {cpu_total:.1f}; "
              f"load average before / after: {load[0]:.2f} / {os.getloadavg()[0]:.2f}")


_DURATION = re.compile(r"\s*([\d.]+)s (setup|call|teardown)\s+(.+?)\s*$")
_WORKER = re.compile(r"^\[(gw\d+)\] \[\s*\d+%\] \w+ (.+?)\s*$")


def _unit_of(test: str, groups: dict) -> str:
    """The unit tests/conftest.py's scheduler hands out: the module's group, or the test itself."""
    return groups.get(test.split("::")[0], test)


def _load_groups() -> dict:
    """tests/conftest.py's module -> unit map, as the workers computed it (collection only, no tests run)."""
    plugin = ROOT / "bench" / "_groups_plugin.py"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "groups.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin.parent), os.environ.get("PYTHONPATH", "")]),
               "WORKBENCH_BENCH_GROUPS": str(out)}
        subprocess.run([str(BIN / "python"), "-m", "pytest", "--co", "-q", "-p", "no:xdist", "-p", "_groups_plugin",
                        "tests"], cwd=ROOT, env=env, capture_output=True, check=True)
        return json.loads(out.read_text())


def tests(extra: list[str]) -> None:
    """``make test``'s two steps: the unit tests on two workers, then nbval alone; per unit and per worker."""
    unit_cmd = [str(BIN / "python"), "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder",
                "tests", "--durations=0", "-v", *extra]
    nbval_cmd = [str(BIN / "python"), "-m", "pytest", "-p", "no:xdist", "--nbval-lax", "--nbval-current-env",
                 "--nbval-sanitize-with", "tests/sanitize.cfg", "notebooks", "-q"]
    groups = _load_groups()
    with tempfile.TemporaryDirectory() as ledger:  # as make test: the notebooks' releases spend a throw-away ledger
        env = {**os.environ, "WORKBENCH_DP_LEDGER": str(Path(ledger) / "dp_ledger.json")}
        t0 = time.perf_counter()
        result = subprocess.run(unit_cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        nbval = subprocess.run(nbval_cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        nbval_wall = time.perf_counter() - t0
    (ROOT / ".pytest-durations.txt").write_text(result.stdout + result.stderr)
    worker = {m.group(2): m.group(1) for m in map(_WORKER.match, result.stdout.splitlines()) if m}
    per_module: dict[str, float] = defaultdict(float)
    per_unit: dict[tuple[str, str], float] = defaultdict(float)
    rows = []
    for m in map(_DURATION.match, result.stdout.splitlines()):
        if m:
            seconds, phase, test = float(m.group(1)), m.group(2), m.group(3)
            per_module[test.split("::")[0]] += seconds
            per_unit[(worker.get(test, "?"), _unit_of(test, groups))] += seconds
            rows.append((seconds, phase, test))
    for module, seconds in sorted(per_module.items(), key=lambda kv: -kv[1]):
        print(f"{seconds:8.1f} s  {module}")
    print("\nper worker (units of 5 s or more; seconds summed over setup, call and teardown):")
    for name in sorted({w for w, _ in per_unit}):
        units = sorted(((s, u) for (w, u), s in per_unit.items() if w == name), reverse=True)
        print(f"{name}: {sum(s for s, _ in units):.1f} s in {len(units)} units")
        for seconds, unit in units:
            if seconds >= 5:
                print(f"{seconds:8.1f} s  {unit}")
    print("\nslowest 15:")
    for seconds, phase, test in sorted(rows, reverse=True)[:15]:
        print(f"{seconds:8.1f} s  {phase:<8} {test}")
    print("\n" + (result.stdout.strip().splitlines() or ["(no output)"])[-1])
    print(f"unit tests wall time: {wall:.1f} s")
    print((nbval.stdout.strip().splitlines() or ["(no output)"])[-1])
    print(f"nbval wall time: {nbval_wall:.1f} s")


def _median_seconds(cmd: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def imports() -> None:
    python = str(BIN / "python")
    print(f"import pandas:      {_median_seconds([python, '-c', 'import pandas']):.2f} s")
    print(f"import workbench:   {_median_seconds([python, '-c', 'import workbench']):.2f} s")
    print(f"workbench --help:   {_median_seconds([str(BIN / 'workbench'), '--help']):.2f} s")
    for stage in ("data", "privacy", "segment", "explain", "fairness", "dynamics", "value", "pipeline"):
        seconds = _median_seconds([python, "-c", f"import workbench.{stage}"], repeat=3)
        print(f"import workbench.{stage + ':':<10} {seconds:.2f} s")


if __name__ == "__main__":
    args = sys.argv[1:] or ["suite"]
    if args[0] == "tests":
        tests(args[args.index("--") + 1:] if "--" in args else [])
    elif args[0] == "imports":
        imports()
    else:
        suite(Path(args[args.index("--out") + 1]) if "--out" in args else None)
