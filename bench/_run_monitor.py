"""Per-stage wall time and peak memory of one ``workbench run``, watched from outside (``bench_scale.py``).

The run is a process tree: the ``workbench run`` process (the Python driver: ``prepare``, then nbclient),
the notebook kernel it starts (``ipykernel_launcher``: every notebook's own work), and on Spark a JVM
under each Python process that opens a session (driver and executors at once in local mode). A stage
starts and ends with the run's progress lines (``[name] preparing data …``, ``[name] [i/N] notebook …``,
``… ok in X s``; ``prepare`` also holds the kernel's start, which comes before the first notebook's line;
the last stage, the records and ``audit.pdf``, has its wall time only). At each stage start the peaks are reset (``/proc/PID/clear_refs``: ``VmHWM`` := the
current RSS) and at its end ``VmHWM`` is read, so each stage shows its own peak, and *rise* is that peak
minus the RSS the stage started from: what the stage itself added. Processes that start during a stage
(the kernel, a JVM) count from their own start. ``VmHWM`` is the kernel's high-water mark, so no sampling
interval can miss a peak; a poller only notices new processes.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

_START = re.compile(r"\] (?:preparing data|\[\d+/\d+\] (\S+) …)")
_END = re.compile(r"\] \[\d+/\d+\] (\S+) (?:ok|failed) in ")


def _status(pid: int) -> dict:
    """``VmHWM`` and ``VmRSS`` of a process in MB (empty once it has gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) / 1024 for k, v in (line.split(":", 1) for line in lines)
            if k in ("VmHWM", "VmRSS")}


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _kind(pid: int, root: int) -> str | None:
    """``driver`` (the run process), ``kernel`` (a notebook kernel), ``jvm``; None for anything else."""
    if pid == root:
        return "driver"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if cmd and cmd[0].endswith(b"java"):
        return "jvm"
    return "kernel" if any(b"ipykernel" in part for part in cmd) else None


class RunMonitor:
    """Start ``command`` (a ``workbench run``), follow its progress lines, measure each stage.

    ``stages`` (after :meth:`wait`) lists per stage: ``stage``, ``seconds`` and for each kind of process
    (``driver``, ``kernel``, ``jvm``) its peak (``<kind>_peak_mb``, the largest over processes of that kind)
    and rise (``<kind>_rise_mb``).
    """

    def __init__(self, command: list[str], env: dict, log=print):
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env, bufsize=1)
        self.log, self.stages, self.lines = log, [], []
        self._pids: dict[int, str] = {}
        self._start_rss: dict[int, float] = {}
        self._lock = threading.Lock()
        self._current: tuple[str, float] | None = None
        self._done = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        """Notice processes of the tree as they start (a stage's peak reset covers those already known)."""
        while not self._done.is_set():
            self._refresh()
            time.sleep(0.2)

    def _refresh(self) -> None:
        seen, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            seen.append(pid)
            todo += _children(pid)
        with self._lock:
            for pid in seen:
                if pid not in self._pids and (kind := _kind(pid, self.proc.pid)):
                    self._pids[pid] = kind
                    self._start_rss[pid] = 0.0  # started during this stage: all of it is the stage's

    def _begin(self, stage: str) -> None:
        self._refresh()
        with self._lock:
            for pid in list(self._pids):
                try:
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                except OSError:
                    pass
                self._start_rss[pid] = _status(pid).get("VmRSS", 0.0)
            self._current = (stage, time.perf_counter())

    def _end(self) -> None:
        if self._current is None:
            return
        self._refresh()
        stage, t0 = self._current
        row = {"stage": stage, "seconds": round(time.perf_counter() - t0, 1)}
        with self._lock:
            for pid, kind in self._pids.items():
                peak = _status(pid).get("VmHWM")
                if peak is None:
                    continue
                rise = peak - self._start_rss.get(pid, 0.0)
                row[f"{kind}_peak_mb"] = round(max(row.get(f"{kind}_peak_mb", 0.0), peak))
                row[f"{kind}_rise_mb"] = round(max(row.get(f"{kind}_rise_mb", 0.0), rise))
        self.stages.append(row)
        self._current = None

    def wait(self) -> int:
        """Follow the run to its end; returns its exit code."""
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self.log(line)
            if _END.search(line):
                self._end()
            elif match := _START.search(line):
                self._end()  # prepare ends where the first notebook starts
                self._begin(match.group(1) or "prepare")
            elif "printing audit.pdf" in line:
                self._begin("records and PDF")
        code = self.proc.wait()
        self._end()
        self._done.set()
        return code
