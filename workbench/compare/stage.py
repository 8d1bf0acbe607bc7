"""Reading two run directories and writing ``compare.html`` / ``compare.json``: the only run-directory code.

Nothing is recomputed from raw data: verdicts and selection rates come from each run's published
tables, segment sizes from its published profile table; only the migration table and the binned
input distributions are counted here (from the pseudonymised assignments and inputs each run
stores), and they are suppressed before anything is shown.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from .. import privacy
from ..data import InputError
from ..rundir import Run
from ._comparison import Comparison, RunData, compare
from .views import comparison_html

#: What a run must hold to be compared, and the notebook that writes it.
REQUIRED = {
    "data/prepare.json": "preparing the data",
    "config.yaml": "preparing the data",
    "artifacts/segments/assignments.parquet": "notebook 02 (segmentation)",
    "artifacts/segments/features.parquet": "notebook 02 (segmentation)",
    "artifacts/segments/segments.json": "notebook 02 (segmentation)",
}
KEY_FIX = ("Run both with the same persistent pseudonym key (the environment variable WORKBENCH_PSEUDONYM_KEY, "
           "or privacy.key_file in the config), then compare them.")


def load_run(path: str | Path, label: str, summary: dict | None = None, manifest: dict | None = None) -> RunData:
    """Read what a comparison needs from one run directory, with a clear error for anything missing.

    Parameters
    ----------
    path : str or Path
        The run directory ``workbench run`` wrote.
    label : str
        "earlier" or "later", used in messages.
    summary, manifest : dict, optional
        The run's ``summary.json`` / ``manifest.json`` content when they are not (yet) on disk (the
        pipeline compares a run while writing it).

    Raises
    ------
    InputError
        Not a run directory, or an artifact is missing (the message names the path and the fix).
    """
    path = Path(path)
    if not path.is_dir() or not (path / "data" / "prepare.json").exists():
        raise InputError(
            f"{path} is not a run directory (no data/prepare.json there). Give the folder `workbench run` "
            "wrote for the run, the one holding index.html, summary.json and data/."
        )
    for rel, who in REQUIRED.items():
        if not (path / rel).exists():
            raise InputError(f"{path / rel} is missing: the {label} run is incomplete ({who} did not write it). "
                             f"Re-run it with `workbench run … --out {path}` and compare again.")
    summary = summary if summary is not None else _json(path, "summary.json", label)
    manifest = manifest if manifest is not None else _json(path, "manifest.json", label)
    prep = json.loads((path / "data" / "prepare.json").read_text())
    config = yaml.safe_load((path / "config.yaml").read_text()) or {}
    segments = json.loads((path / "artifacts" / "segments" / "segments.json").read_text())
    assignments = pd.read_parquet(path / "artifacts" / "segments" / "assignments.parquet")
    k = int(prep.get("suppression_k") or summary.get("01_data_privacy", {}).get("suppression_k") or 10)
    return RunData(
        label=label,
        facts=_facts(config, manifest, prep, segments),
        verdicts=[{**r, "_stage": stage} for stage in sorted(x for x in summary if isinstance(summary[x], dict))
                  for r in (summary[stage].get("verdicts") or [])],
        selection=_optional_table(path / "artifacts" / "fairness" / "selection.parquet"),
        sizes=_sizes(path, assignments, k),
        assignments=assignments,
        features=pd.read_parquet(path / "artifacts" / "segments" / "features.parquet"),
        inputs=[str(c) for c in segments.get("inputs", [])],
        k=k,
        published=privacy.published_tables(Run(path)) if (path / "artifacts" / privacy.DISCLOSURE_DIR).is_dir()
        else None,
        perturbation=privacy.perturbation_settings(Run(path)),
    )


def check_comparable(a_dir: Path, a: RunData, b_dir: Path, b: RunData) -> None:
    """Refuse runs that cannot be compared: different datasets, or pseudonyms under different keys.

    Customers are joined across runs by pseudonym, which identifies the same customer only under
    the same persistent key. Each manifest records the key's origin and a check value (an HMAC of
    a fixed text under the key: equal for equal keys, revealing nothing about the key).
    """
    if a.facts["dataset"] != b.facts["dataset"]:
        raise InputError(
            f"The runs describe different datasets: {a_dir} is '{a.facts['dataset']}', {b_dir} is "
            f"'{b.facts['dataset']}'. Compare two runs of the same dataset (a re-audit, or before / after mitigation)."
        )
    for d, r in ((a_dir, a), (b_dir, b)):
        if r.facts["pseudonym_key"] in (None, "random"):
            raise InputError(
                f"{d} used a random per-run pseudonym key, so its customers cannot be matched with another "
                f"run's (a pseudonym names the same customer only under the same key). {KEY_FIX}"
            )
        if not r.facts.get("pseudonym_key_check"):
            raise InputError(
                f"{d} records no pseudonym key check value (it was made by an older workbench), so whether "
                f"both runs used the same key cannot be verified. {KEY_FIX}"
            )
    if a.facts["pseudonym_key_check"] != b.facts["pseudonym_key_check"]:
        raise InputError(
            f"The runs used different pseudonym keys ({a_dir}: {a.facts['pseudonym_key']}, {b_dir}: "
            f"{b.facts['pseudonym_key']}; their key check values differ), so the same customer has "
            f"different pseudonyms in them. {KEY_FIX}"
        )


def compare_runs(earlier: str | Path, later: str | Path, *, later_summary: dict | None = None,
                 later_manifest: dict | None = None) -> Comparison:
    """Compare two run directories (the earlier first) after checking they can be compared.

    Parameters
    ----------
    earlier, later : str or Path
    later_summary, later_manifest : dict, optional
        The later run's summary and manifest when not yet written (see :func:`load_run`).

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        Bad input: not a run, missing artifacts, different datasets or keys.
    """
    a = load_run(earlier, "earlier")
    b = load_run(later, "later", summary=later_summary, manifest=later_manifest)
    check_comparable(Path(earlier), a, Path(later), b)
    return compare(a, b)


def write_comparison(comparison: Comparison, out: str | Path) -> tuple[Path, Path]:
    """Write ``compare.html`` and ``compare.json`` into ``out``: each to a temporary file, then renamed.

    A failure leaves no half-written file behind (an earlier complete comparison stays).

    Returns
    -------
    (Path, Path)
        The HTML page and the JSON file.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    page = comparison_html(comparison)
    data = json.dumps(comparison.to_json(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    written = []
    for name, text in (("compare.json", data), ("compare.html", page)):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, out / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(out / name)
    return written[1], written[0]


def _json(path: Path, name: str, label: str) -> dict:
    file = path / name
    if not file.exists():
        raise InputError(f"{file} is missing: the {label} run did not finish. Re-run it with "
                         f"`workbench run … --out {path}` and compare again.")
    return json.loads(file.read_text())


def _optional_table(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def _sizes(path: Path, assignments: pd.DataFrame, k: int) -> pd.DataFrame:
    """Segment sizes as the run published them (its profile table), NaN where it hid them."""
    profiles = _optional_table(path / "artifacts" / "segments" / "profiles.parquet")
    if profiles is not None and {"segment_name", "n"} <= set(profiles.columns):
        keep = profiles.loc[profiles["segment_name"].astype(str).isin(set(assignments["segment_name"].astype(str)))]
        return keep[["segment_name", "n"]].astype({"segment_name": str, "n": float}).reset_index(drop=True)
    # no published size table (an older run): suppress the counts like any published table
    counts = assignments["segment_name"].astype(str).value_counts(sort=False).to_frame("n")
    counts.index.name = "segment_name"
    shown = privacy.suppress_printed(counts, "segment_name", "customers", k, privacy.perturbation_settings(Run(path)))
    shown = shown.drop(index=privacy.TOTAL)
    return pd.DataFrame({"segment_name": shown.index.astype(str), "n": shown[privacy.TOTAL].to_numpy(dtype=float)})


def _facts(config: dict, manifest: dict, prep: dict, segments: dict) -> dict:
    """Provenance of one run for the comparison: no paths, no pseudonyms, nothing per customer."""
    prov = manifest.get("provenance") or {}
    dataset = manifest.get("dataset") or {}
    return {
        "name": config.get("name"),
        "dataset": prep.get("dataset"),
        "as_of": (config.get("dataset") or {}).get("as_of"),
        "fingerprint": prov.get("fingerprint", dataset.get("fingerprint")),
        "config_sha256": prov.get("config_sha256"),
        "seed": prov.get("seed", config.get("seed")),
        "git_commit": prov.get("git_commit", manifest.get("git_commit")),
        "run_date": prov.get("run_date", manifest.get("started")),
        "pseudonym_key": dataset.get("pseudonym_key_origin", prep.get("pseudonym_key")),
        "pseudonym_key_check": dataset.get("pseudonym_key_check"),
        "suppression_k": prep.get("suppression_k"),
        "n_customers": prep.get("n_customers"),
        "method": segments.get("method"),
        "k_segments": segments.get("k"),
    }
