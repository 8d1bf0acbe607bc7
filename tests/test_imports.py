"""`import workbench` and the command line import only what they use (issue 23).

Each check runs in a fresh interpreter: this test process has imported everything already.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ["nbformat", "nbconvert", "papermill", "scipy.stats", "matplotlib", "pyspark", "pandera", "sklearn",
         "shap", "opendp", "lightgbm", "jsonschema", "duckdb", "fairlearn", "lifetimes", "playwright"]


def _imported_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize("statement", ["import workbench", "import workbench.cli"])
def test_heavy_modules_are_not_imported(statement):
    loaded = _imported_after(statement)
    assert not [m for m in HEAVY if m in loaded], statement


def test_import_workbench_imports_no_stage_and_not_pandas():
    loaded = _imported_after("import workbench")
    assert "pandas" not in loaded
    assert not [m for m in loaded if m.startswith("workbench.")]


def test_public_names_and_stage_packages_load_on_first_use():
    loaded = _imported_after("import workbench\nworkbench.load; workbench.open_run; workbench.Run; workbench.fairness")
    assert {"workbench.data", "workbench.pipeline", "workbench.rundir", "workbench.fairness"} <= loaded
    code = "import workbench; print(workbench.load.__module__, workbench.InputError.__name__, 'open_run' in dir(workbench))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["workbench.data._datasets", "InputError", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import workbench

        workbench.nope  # noqa: B018
