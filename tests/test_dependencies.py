"""Dependencies point one way: the graph ARCHITECTURE.md draws, checked on every import.

Each module's imports of our own packages (parsed with ``ast``, migrations aside) must
follow an edge of ``ALLOWED``; the few exceptions are listed with their reason. A new
import across apps either fits the graph or changes it here and in ARCHITECTURE.md.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = (
    "dropturk",
    "dbkit",
    "accounts",
    "annotations",
    "audit",
    "quality",
    "exports",
    "ocr_bridge",
    "ocr",
)
# Who may import whom (besides itself). dbkit and ocr are libraries of our own that know
# no app (ocr knows no Django).
ALLOWED = {
    "dropturk": set(OURS) - {"dropturk"},  # the project wires apps; no app imports it
    "ocr_bridge": {"annotations", "quality", "exports", "accounts", "audit", "ocr", "dbkit"},
    "exports": {"annotations", "quality", "accounts", "audit", "ocr", "dbkit"},
    "quality": {"annotations", "accounts", "audit", "dbkit"},
    "annotations": {"quality", "accounts", "audit", "dbkit"},
    "accounts": {"audit", "dbkit"},
    "audit": {"dbkit"},
    "dbkit": set(),
    "ocr": set(),
}
# annotations reaches quality through its services and reads only (a label and its
# consensus are one transaction); never its models, views or API.
NARROW = {("annotations", "quality"): ("quality.services", "quality.selectors")}
# (module, imported package): why this import stands outside the graph.
EXCEPTIONS = {
    ("audit/views.py", "accounts"): "the admin's pages: admin check and re-authentication",
}


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def violations() -> list[str]:
    found = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = path.relative_to(ROOT).as_posix()
            for name in imports_of(path):
                target = name.split(".")[0]
                if target not in OURS or target == package:
                    continue
                if (module, target) in EXCEPTIONS:
                    continue
                if target not in ALLOWED[package]:
                    found.append(f"{module} imports {name}: {package} -> {target}")
                    continue
                narrow = NARROW.get((package, target))
                if narrow and not name.startswith(narrow) and name != target:
                    found.append(f"{module} imports {name}: {package} uses {target} {narrow}")
    return found


def test_every_import_follows_the_dependency_graph():
    assert violations() == []


def test_the_graph_has_no_cycle_but_the_one_transaction():
    # annotations <-> quality is the one cycle allowed (a label and its consensus); with
    # it taken out the graph is a DAG.
    edges = {app: set(targets) for app, targets in ALLOWED.items()}
    edges["quality"].discard("annotations")
    done: set[str] = set()

    def visit(app: str, path: tuple[str, ...]) -> None:
        assert app not in path, " -> ".join((*path, app))
        if app in done:
            return
        for target in edges[app]:
            visit(target, (*path, app))
        done.add(app)

    for app in edges:
        visit(app, ())


def test_exceptions_are_still_needed():
    stale = [
        key
        for key in EXCEPTIONS
        if (ROOT / key[0]).exists()
        and not any(name.split(".")[0] == key[1] for name in imports_of(ROOT / key[0]))
    ]
    assert stale == []
