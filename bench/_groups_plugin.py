"""A pytest plugin for ``bench_suite.py tests``: writes tests/conftest.py's module -> unit map after collection."""

import json
import os

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    conftest = next(p for p in config.pluginmanager.get_plugins() if hasattr(p, "_module_groups"))
    with open(os.environ["WORKBENCH_BENCH_GROUPS"], "w") as out:
        json.dump(conftest._module_groups(items), out)
