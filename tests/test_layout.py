"""The layout's rules, held on the source: dependencies between the packages point one way
(ui and eval use rag and ingest, ingest uses rag, rag uses none of them), and no two modules
import each other, directly or around a loop. Every import counts, those inside functions too;
only imports under ``if TYPE_CHECKING:`` are left out, since they never run."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from .conftest import ROOT

PACKAGES = ("rag", "ingest", "ui", "eval")
MAY_USE = {"rag": set(), "ingest": {"rag"}, "ui": {"rag", "ingest"}, "eval": {"rag", "ingest"}}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    """(module, names imported from it) for every import that can run."""
    for node in ast.iter_child_nodes(tree):
        if _type_checking_only(node):
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, [a.name for a in node.names]
        yield from _imports(node)


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for module, names in _imports(ast.parse(path.read_text("utf-8"))):
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in known]
            if not targets and module in known:
                targets = [module]
            edges[name].update(t for t in targets if t != name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def wrong_way(edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{name} imports {target}"
        for name, targets in edges.items()
        for target in targets
        if (a := name.split(".")[0]) != (b := target.split(".")[0]) and b not in MAY_USE[a]
    ]


def test_packages_depend_one_way() -> None:
    assert wrong_way(graph()) == []


def test_no_module_imports_itself_around_a_loop() -> None:
    assert cycles(graph()) == []


def test_the_checks_see_a_loop_and_a_wrong_way_import() -> None:
    edges = graph()
    edges["rag.store"].add("rag.retrieve")  # rag.retrieve imports rag.store
    assert any({"rag.store", "rag.retrieve"} <= set(c) for c in cycles(edges))
    assert "rag.store" in graph()["rag.retrieve"]
    edges = graph()
    edges["rag.store"].add("ingest.pipeline")
    assert wrong_way(edges) == ["rag.store imports ingest.pipeline"]


def test_the_public_api_imports_from_rag() -> None:
    import rag

    names = ["Assistant", "Answer", "Citation", "Chat", "Filters", "IngestReport", "Article"]
    for name in [*names, "ArticleInfo"]:
        assert getattr(rag, name).__name__ == name
    assert set(rag.__all__) >= {*names, "ArticleInfo"}


def test_every_package_the_code_imports_is_declared() -> None:
    import re
    import sys
    from importlib.metadata import packages_distributions, requires

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    declared = {
        norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0])
        for r in requires("rag-news") or []
        if "extra ==" not in r or 'extra == "bench"' in r or 'extra == "local"' in r
    }
    third_party = {
        m.split(".")[0]
        for path in modules().values()
        for m, _ in _imports(ast.parse(path.read_text("utf-8")))
        if m.split(".")[0] not in (*PACKAGES, *sys.stdlib_module_names)
    }
    dists = packages_distributions()
    undeclared = [m for m in sorted(third_party) if not {norm(d) for d in dists[m]} & declared]
    assert undeclared == []
