"""Targeting policy: segments by id, name and value rank."""

from __future__ import annotations

import pytest

from workbench import fairness


def test_resolve_policy_by_id_name_and_value():
    names = {0: "A", 1: "B", 2: "C"}
    got = fairness.resolve_policy(
        {"x": {"top_value": 1}, "y": {"bottom_value": 2}, "z": {"names": ["B"]}, "w": [2]}, names, [2, 0, 1])
    assert got == {"x": [1], "y": [0, 2], "z": [1], "w": [2]}
    with pytest.raises(ValueError, match="do not exist"):
        fairness.resolve_policy({"x": {"names": ["nope"]}}, names)
