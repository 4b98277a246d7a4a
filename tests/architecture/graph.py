"""Print which of Kennel's apps import which: `make deps` (or `python -m tests.architecture.graph
[ROOT]` for another checkout, e.g. an older commit unpacked with `git archive`).

One line per app, the apps it imports and how many imports each, counting imports inside
functions too; an edge that points up the layers of STYLE.md is marked "UP", and a cycle
between two apps "CYCLE".
"""

import sys
from collections import Counter
from pathlib import Path

import grimp

LAYERS = ["ops", "api", "monitoring", "notifications", "analytics", "payments"]
LAYERS += ["reservations", "catalogue", "core"]
RANK = {"ops": 0, "api": 1, "monitoring": 1, "notifications": 2, "analytics": 2, "payments": 3}
RANK |= {"reservations": 4, "catalogue": 5, "core": 6}
ENTRY_POINTS = ("views", "admin", "urls", "management")


def app_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def is_entry_point(module: str) -> bool:
    return any(part in ENTRY_POINTS for part in module.split(".")[2:])


def edges(root: Path) -> Counter[tuple[str, str, bool]]:
    sys.path.insert(0, str(root))
    graph = grimp.build_graph("kennel", cache_dir=None)
    found: Counter[tuple[str, str, bool]] = Counter()
    for importer in graph.modules:
        source = app_of(importer)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            target = app_of(imported)
            if target is not None and target != source:
                found[(source, target, is_entry_point(importer))] += 1
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[0]).resolve() if argv else Path.cwd()
    found = edges(root)
    pairs = {(s, t) for s, t, _ in found}
    for source in LAYERS:
        out = sorted({t for s, t, _ in found if s == source}, key=RANK.__getitem__)
        if not out:
            continue
        shown = []
        for target in out:
            modules = found[(source, target, False)]
            entry = found[(source, target, True)]
            marks = []
            if modules and RANK[target] < RANK[source]:
                marks.append("UP")
            if modules and (target, source) in pairs and found[(target, source, False)]:
                marks.append("CYCLE")
            count = f"{modules}" + (f"+{entry} entry" if entry else "")
            shown.append(f"{target} ({count}){' ' + '/'.join(marks) if marks else ''}")
        print(f"{source:>14} -> {', '.join(shown)}")
    upward = sum(n for (s, t, e), n in found.items() if not e and RANK[t] < RANK[s])
    print(f"\nimports pointing up the layers (outside entry points): {upward}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
