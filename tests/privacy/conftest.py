"""Shared fixtures of the privacy tests."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.data import Roles, TransactionRoles


@pytest.fixture
def toy():
    """Five customers (a direct identifier, an undeclared column, a consent flag), five transactions
    (one of an unknown customer), and their roles."""
    customers = pd.DataFrame({
        "cid": ["a", "b", "c", "d", "e"],
        "name": ["n1", "n2", "n3", "n4", "n5"],
        "age": [30, 40, 50, 60, 70],
        "postcode": ["X1", "X1", "X2", "X3", "X3"],
        "visits": [1, 2, 3, 4, 5],
        "free_text_notes": ["x"] * 5,
        "opt_out": [False, True, False, False, False],
    })
    roles = Roles(id="cid", direct_identifiers=["name"], quasi_identifiers=["age", "postcode"],
                  sensitive=["age"], features={"engagement": ["visits"]},
                  consent={"profiling_opt_out": "opt_out"})
    tx = pd.DataFrame({"cid": ["a", "b", "b", "e", "zz"], "ts": pd.to_datetime(["2024-01-01"] * 5), "amt": [1.0] * 5})
    roles.transactions = TransactionRoles(id="cid", timestamp="ts", amount="amt")
    return customers, tx, roles
