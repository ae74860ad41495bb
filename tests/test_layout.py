"""The package's layout is the pipeline: read from the code's own imports, no stage imports a
later one and no modules import each other in a cycle; the language stage needs no JAX."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "phasedsl"
# stages in pipeline order; a module may import its own stage and earlier ones
ORDER = ["version", "language", "lower", "engines", "analysis", "measure", "results_shape",
         "rundir", "output", "pipeline", "cli", ""]
# the run folder's modules by job, in order: each imports only those before it (the
# package's face, ``phasedsl.rundir``, last), so the identity of a run touches no file
RUNDIR = ["errors", "identity", "validation", "files", "lock", "folder", ""]


def modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def imports(name: str, path: Path, known) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found |= {c for c in candidates if c in known and c != name}
    return found


def stage(name: str) -> int:
    rest = name.removeprefix("phasedsl").removeprefix(".").split(".")[0]
    return ORDER.index(rest)


def graph():
    mods = modules()
    return {m: imports(m, p, mods) for m, p in mods.items()}


def test_no_stage_imports_a_later_one():
    up = [(a, b) for a, targets in graph().items() for b in targets if stage(b) > stage(a)]
    assert up == []


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(v, path):
        state[v] = 1
        for w in sorted(edges[v]):
            if state.get(w) == 1:
                cycle.extend(path[path.index(w):] + [w] if w in path else [v, w])
                return True
            if w not in state and visit(w, path + [w]):
                return True
        state[v] = 2
        return False

    assert not any(visit(v, [v]) for v in sorted(edges) if v not in state), cycle


def test_the_run_folder_modules_import_only_earlier_jobs():
    def job(name):
        return RUNDIR.index(name.removeprefix("phasedsl.rundir").removeprefix("."))

    inside = [m for m in modules() if m == "phasedsl.rundir" or m.startswith("phasedsl.rundir.")]
    assert sorted(map(job, inside)) == list(range(len(RUNDIR)))  # each job a module
    edges = graph()
    up = [(a, b) for a in inside for b in edges[a] if b in inside and job(b) >= job(a)]
    assert up == []


def test_every_stage_says_what_it_takes_and_gives():
    for name in ("language", "lower", "engines", "analysis", "measure", "output", "pipeline"):
        doc = ast.get_docstring(ast.parse((ROOT / name / "__init__.py").read_text()))
        assert doc and len(doc.split()) > 25, name


def test_the_language_stage_needs_no_jax():
    code = ("import sys; from phasedsl.pipeline.spec import load; "
            f"load({str(ROOT.parent / 'specs' / 'pt1_degeneracy.phase')!r}); "
            "assert 'jax' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_engines_import_jax_at_the_top():
    """An engine cannot work without JAX: its modules import it once, at the top, not in each
    function (``devices`` alone waits, so that importing it leaves ``XLA_FLAGS`` settable;
    ``phasedsl check`` imports no engine and stays JAX-free, above)."""
    inner = []
    for f in sorted((ROOT / "engines").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                names = ([a.name for a in sub.names] if isinstance(sub, ast.Import)
                         else [sub.module or ""] if isinstance(sub, ast.ImportFrom) else [])
                if any(n.split(".")[0] in ("jax", "blackjax") for n in names):
                    inner.append(f"{f.name}:{node.name}")
    assert inner == ["devices.py:backend"]
