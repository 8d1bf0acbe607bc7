"""What a finished run records about itself: ``summary.json`` (results) and ``manifest.json`` (provenance)."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..rundir import Run
from ._execute import NOTEBOOK_DIR

_PACKAGES = [
    "workbench", "numpy", "pandas", "scikit-learn", "fairlearn", "shap", "lightgbm", "duckdb",
    "pyarrow", "pandera", "opendp", "matplotlib", "papermill", "nbconvert", "ipykernel",
]


def merge_summary(run: Run) -> dict:
    """``summary.json``: the prepared data's counts, then every stage's fragment (deterministic)."""
    prep = run.read_json("data/prepare.json")
    summary = {
        "dataset": prep["dataset"],
        "n_customers": prep["n_customers"],
        "n_transactions": prep["n_transactions"],
        "privacy": dict(prep["counts"]),
    }
    if prep.get("labels"):
        summary["labels"] = prep["labels"]
    if prep.get("data_checks"):
        summary["data_checks"] = prep["data_checks"]
    summary.update(_fragments(run.path / "summary"))
    return summary


def build_manifest(run: Run, config: dict, statuses: list[dict], started: datetime, ok: bool) -> dict:
    """``manifest.json`` without output hashes: status, parameters, versions, timings, stage fragments."""
    manifest = {
        "status": "complete" if ok else "failed",
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": {k: v for k, v in config.items() if not k.startswith("_")},
        "seed": config.get("seed"),
        "git_commit": _git_commit(),
        "versions": _versions(),
        "platform": f"{platform.system()} {platform.machine()}, {sys.version.split()[0]}",
        "timings": statuses,
    }
    manifest.update(_fragments(run.path / "manifest_parts"))
    return manifest


def hash_outputs(folder: Path) -> dict:
    """SHA-256 of every file under ``folder`` (relative path -> hex digest), ``manifest.json`` left out."""
    hashes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            hashes[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _fragments(folder: Path) -> dict:
    """``{stem: content}`` of the JSON fragments in ``folder``, in file-name order."""
    if not folder.exists():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def _git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=NOTEBOOK_DIR.parent, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
