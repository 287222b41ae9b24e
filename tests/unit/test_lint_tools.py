"""The dependency checks in `make lint` find what they are meant to find."""

from __future__ import annotations

from tools.cycles import foreign_models, strongly_connected


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_cycle_finder_finds_a_hidden_cycle_and_nothing_in_a_tree():
    edges = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert strongly_connected(sorted(edges), edges) == [["a.x", "a.y", "a.z"]]
    tree = {"a.x": {"a.y", "a.z"}, "a.y": {"a.z"}, "a.z": set()}
    assert strongly_connected(sorted(tree), tree) == []


def test_importing_another_domains_models_is_reported_and_ones_own_is_not():
    edges = {
        "chalicelib.orders.checkout": {"chalicelib.inventory.models", "chalicelib.orders.models"},
        "chalicelib.orders.repository": {"chalicelib.orders.models", "chalicelib.inventory.repository"},
    }
    assert foreign_models(edges, _package) == [("chalicelib.orders.checkout", "chalicelib.inventory.models")]
