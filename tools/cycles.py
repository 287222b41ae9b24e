"""Import cycles in chalicelib, counted as import-linter's graph (grimp) sees them: every import, including
those inside functions. Prints each cycle (between modules, and between the top-level packages, i.e. domains)
and exits 1 if there is any.

Also the key-ownership rule: no module imports another domain's ``models`` (its PynamoDB items and key
builders). A domain reads and writes another's items only through that domain's repository functions.

    .venv/bin/python -m tools.cycles
"""

from __future__ import annotations

import sys
from collections import defaultdict

import grimp

PACKAGE = "chalicelib"


def strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of nodes that import each other (size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def main() -> int:
    graph = grimp.build_graph(PACKAGE, include_external_packages=False)
    modules = sorted(graph.modules)
    module_edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in modules}
    package_edges: dict[str, set[str]] = defaultdict(set)

    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else module

    for m, targets in module_edges.items():
        for t in targets:
            if package(m) != package(t):
                package_edges[package(m)].add(package(t))
    packages = sorted({package(m) for m in modules})
    for p in packages:
        package_edges.setdefault(p, set())
    cycles = strongly_connected(modules, module_edges) + strongly_connected(packages, package_edges)
    for group in cycles:
        print("cycle:", " <-> ".join(group))
    print(f"{len(cycles)} import cycles in {PACKAGE} ({len(modules)} modules, {len(packages)} packages)")
    foreign = foreign_models(module_edges, package)
    for m, t in foreign:
        print(f"foreign models: {m} imports {t}")
    print(f"{len(foreign)} imports of another domain's models")
    return 1 if cycles or foreign else 0


def foreign_models(module_edges: dict[str, set[str]], package) -> list[tuple[str, str]]:
    """(importer, models module) pairs where a module imports the ``models`` of a domain other than its own."""
    return sorted(
        (m, t)
        for m, targets in module_edges.items()
        for t in targets
        if t.endswith(".models") and package(t) != package(m)
    )


if __name__ == "__main__":
    sys.exit(main())
