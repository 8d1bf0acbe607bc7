"""The privacy budget of a dataset across runs: a ledger file, and refusing a release over budget.

Every differentially private release of a dataset spends part of one total budget: two releases
of the same data at epsilon 1 are, together, a release at epsilon 2. The ledger holds, per
population (the dataset's name and identity, or ``privacy.dp.population``: the people, not the
content, the sample size or the output folder, so an erasure, a new month of data, a larger sample
or another ``--out`` does not reset the budget), every release's epsilon, delta, date, run and
content fingerprint; a release that would take the total over the population's budget is refused
before any query runs.

The ledger is one file per user, outside every output folder (:func:`default_ledger_path`), so that
deleting or moving a reports folder does not forget what was spent.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..data import InputError


class BudgetExceeded(InputError):
    """A release would take a dataset's spent privacy budget over its total."""


#: Environment variable naming the ledger file when ``privacy.dp.ledger`` is not set.
LEDGER_ENV = "WORKBENCH_DP_LEDGER"


def default_ledger_path() -> Path:
    """Where the budget ledger lives when the config names none.

    ``$WORKBENCH_DP_LEDGER`` when set (a shared drive for a team; a temporary file for tests, which
    are not releases), else ``$XDG_DATA_HOME/workbench/dp_ledger.json`` (by default
    ``~/.local/share/workbench/dp_ledger.json``): outside any output folder, the same for every run.
    """
    named = os.environ.get(LEDGER_ENV)
    if named:
        return Path(named).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "workbench" / "dp_ledger.json"


def read_ledger(path: str | Path, population: str) -> list[dict]:
    """The releases recorded for ``population`` in the ledger file (empty when none)."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        book = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise InputError(f"The privacy budget ledger {path} is not valid JSON; restore it from a backup "
                         "(deleting it would forget the budget already spent).") from None
    return list(book.get(population, {}).get("releases", []))


def check_budget(path: str | Path, population: str, epsilon: float, total_epsilon: float) -> float:
    """Raise :class:`BudgetExceeded` when ``epsilon`` more would exceed ``total_epsilon``.

    Returns
    -------
    float
        The epsilon spent so far on this dataset.
    """
    spent = sum(float(r["epsilon"]) for r in read_ledger(path, population))
    if spent + epsilon > total_epsilon + 1e-12:
        raise BudgetExceeded(
            f"Differentially private release refused: this dataset has already spent epsilon "
            f"{spent:g} of its total budget {total_epsilon:g} (ledger {path}), and this release "
            f"would spend {epsilon:g} more. Every release of the same data adds up. What to do: "
            "publish an earlier release again instead of making a new one, or lower "
            "privacy.dp.epsilon to at most the remaining budget "
            f"({max(total_epsilon - spent, 0):g}); raising privacy.dp.total_epsilon weakens the "
            "promise made to every customer already released."
        )
    return spent


def append_release(path: str | Path, population: str, entry: dict, dataset: str) -> list[dict]:
    """Add one release to the ledger file (written atomically) and return the dataset's releases."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    book = json.loads(path.read_text()) if path.exists() else {}
    record = book.setdefault(population, {"dataset": dataset, "releases": []})
    record["releases"].append(entry)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(book, handle, indent=2)
    os.replace(tmp, path)
    return list(record["releases"])


def ledger_population(dataset: dict, settings: dict) -> str:
    """The ledger key: whose budget a release spends.

    ``privacy.dp.population`` when set, else the dataset's name and identity (the customers' file,
    or the generator and its seed: ``Dataset.identity``). Not the content fingerprint, the sample
    size or the output folder: erasing one customer, a new month of transactions, a larger sample
    or another ``--out`` changes the content or the place but not the people, and every release
    about them adds up; keying by any of these would hand each copy a fresh budget.
    """
    identity = dataset.get("identity") or dataset.get("source", "")
    return str(settings.get("population") or f"{dataset.get('name', '')}: {identity}")
