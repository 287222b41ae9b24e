"""Cold-start import cost: the whole Chalice app vs. the third-party runtime libraries it is built on.

Each figure is measured in fresh interpreters (``python -c "import ..."``) minus a bare interpreter start, best of
N runs (interleaved, so drift hits every row alike). Two settings:

* ``cached .pyc``  - bytecode already compiled (a developer machine, the second run of anything);
* ``no .pyc``      - the libraries and our code compiled from source on every start (the standard library keeps
                     its bytecode), as on Lambda: ``chalice package`` ships no .pyc files and /var/task is
                     read-only, so each cold start compiles every third-party and own module it imports.

``import app`` registers every route from ``chalicelib/routes.py`` and loads a domain's modules on its first request
(``core.routing``), so two more rows say what a cold Lambda pays before its first checkout answers (app +
``chalicelib.orders.api``) and once it has served every domain (app + every route module: the old eager import).

Goal: app / libs <= 1.3, i.e. our own code (and whatever it imports eagerly beyond the libraries) adds at most
30 % to the libraries' import time. The second table (from ``-X importtime``) names what ``import app`` loads
that the libraries alone do not, by top-level package and by our own modules.

    .venv/bin/python bench/coldstart.py [-n 7] [--top 12]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.3

LIBS = [
    "chalice",
    "pynamodb",
    "pynamodb.models",
    "pynamodb.attributes",
    "pynamodb.connection",
    "pynamodb.transactions",
    "pynamodb.indexes",
    "pydantic",
    "pydantic_settings",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "jwt",
    "ulid",
    "botocore",
]
SNIPPETS = {
    "bare": "pass",
    "libs": "import " + ", ".join(LIBS),
    "app": "import app",
    # app.py registers routes from a table and imports a domain's modules on its first request (core.routing):
    # what a cold Lambda pays before answering a checkout, and before it has served every domain once.
    "app_checkout": "import app, chalicelib.orders.api",
    "app_every_route": "import app, importlib; [importlib.import_module(r[0]) for r in app.ROUTES]",
    # app.py pauses the cyclic GC around its imports (gc.disable() ... gc.freeze(); gc.enable()), which also
    # speeds up the libraries it imports. For a like-for-like figure, the libraries alone with the same pause.
    "libs_gc_paused": "import gc; gc.disable(); import " + ", ".join(LIBS) + "; gc.freeze(); gc.enable()",
}


def env(no_pyc: bool, cache_dir: str | None = None) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    e.update(
        {
            "PYTHONPATH": str(ROOT),
            "STAGE": e.get("STAGE", "dev"),
            "AWS_DEFAULT_REGION": e.get("AWS_DEFAULT_REGION", "ap-southeast-1"),
        }
    )
    if no_pyc:
        e["PYTHONDONTWRITEBYTECODE"] = "1"
        e["PYTHONPYCACHEPREFIX"] = cache_dir or tempfile.mkdtemp(prefix="coldstart-nopyc-")
    return e


def run_once(code: str, environ: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environ,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


# For "no .pyc": the standard library does have bytecode on Lambda, so compile exactly the stdlib modules the
# snippets use into the (otherwise empty) pycache prefix; site-packages and our code stay uncompiled.
WARM_STDLIB = """
import importlib.util, os, py_compile, sys, sysconfig
{imports}
std = os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None) or ""
    if f.endswith(".py") and os.path.realpath(f).startswith(std) and "-packages" not in f:
        py_compile.compile(f, cfile=importlib.util.cache_from_source(f), doraise=False)
"""


def measure(n: int, no_pyc: bool) -> dict[str, float]:
    """Best wall time per snippet over n interleaved rounds."""
    environ = env(no_pyc)
    if no_pyc:
        run_once(WARM_STDLIB.format(imports="\n".join(SNIPPETS.values())), environ)
    else:  # compile once so every measured run finds its .pyc
        for code in SNIPPETS.values():
            run_once(code, environ)
    best = {k: float("inf") for k in SNIPPETS}
    for _ in range(n):
        for name, code in SNIPPETS.items():
            best[name] = min(best[name], run_once(code, environ))
    return best


LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def importtime(code: str) -> list[tuple[str, int, list]]:
    """The import tree of ``python -X importtime -c code`` (cached .pyc): [(module, self us, children)].
    The output is post-order with two spaces of indent per level, so a module's children are the lines one
    level deeper that precede it."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env(False),
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    pending: dict[int, list] = defaultdict(list)
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            depth = len(m.group(3)) // 2
            pending[depth].append((m.group(4), int(m.group(1)), pending.pop(depth + 1, [])))
    return pending[0]


def extras(top: int) -> tuple[list[tuple[str, float, int]], list[tuple[str, float, float]]]:
    """What ``import app`` costs beyond the libraries, from ``-X importtime`` (median of 5 runs per module):
    (package, self ms of its modules that the libs alone do not load, module count) and, for our own modules,
    (module, ms beyond the libs including what it pulls in, own self ms)."""
    libs: set[str] = set()

    def names(nodes):
        for mod, _s, children in nodes:
            libs.add(mod)
            names(children)

    names(importtime(SNIPPETS["libs"]))
    runs = [importtime(SNIPPETS["app"]) for _ in range(5)]
    self_us: dict[str, list[int]] = defaultdict(list)
    beyond_us: dict[str, list[int]] = defaultdict(list)

    def walk(nodes) -> int:
        total = 0
        for mod, s, children in nodes:
            extra = (0 if mod in libs else s) + walk(children)
            self_us[mod].append(s)
            beyond_us[mod].append(extra)
            total += extra
        return total

    for tree in runs:
        walk(tree)

    def median(xs):
        return sorted(xs)[len(xs) // 2] / 1e3

    by_pkg: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for mod, xs in self_us.items():
        if mod not in libs:
            by_pkg[mod.split(".")[0]][0] += median(xs)
            by_pkg[mod.split(".")[0]][1] += 1
    pkgs = sorted(((p, ms, n) for p, (ms, n) in by_pkg.items()), key=lambda r: -r[1])[:top]
    ours = sorted(
        ((m, median(beyond_us[m]), median(self_us[m])) for m in self_us if m == "app" or m.startswith("chalicelib")),
        key=lambda r: -r[1],
    )[:top]
    return pkgs, ours


def package_figures(zip_path: str, n: int) -> None:
    """`import app` from an unpacked deployment.zip, fresh interpreters, PYTHONDONTWRITEBYTECODE (as on
    Lambda's read-only /var/task): with the .pyc files `make package` adds, and with them removed."""
    import shutil
    import zipfile

    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "STAGE": "dev",
        "AWS_DEFAULT_REGION": "ap-southeast-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    print(f"\n`import app` from {zip_path} (ms, best of {n})")
    for label, keep_pyc in (("with .pyc (make package)", True), ("without .pyc", False)):
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(zip_path) as z:
                z.extractall(tmp, members=[m for m in z.namelist() if keep_pyc or not m.endswith(".pyc")])
            if not keep_pyc:
                for d in Path(tmp).rglob("__pycache__"):
                    shutil.rmtree(d, ignore_errors=True)
            best = min(
                float(
                    subprocess.run(
                        [sys.executable, "-c", code], cwd=tmp, env=environ, check=True, capture_output=True, text=True
                    ).stdout
                )
                for _ in range(n)
            )
            print(f"  {label:<30}{best * 1e3:>8.0f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=7, help="runs per figure (best of N); default 7")
    ap.add_argument("--top", type=int, default=12, help="rows in the breakdown tables")
    ap.add_argument(
        "--package",
        metavar="ZIP",
        help="also time `import app` from a deployment.zip as Lambda "
        "unpacks it (read-only: no bytecode written), with and without the .pyc it carries",
    )
    args = ap.parse_args()
    if args.package:
        package_figures(args.package, args.n)

    print(f"python {sys.version.split()[0]} ({sys.executable}); best of {args.n} fresh interpreters each")
    results = {label: measure(args.n, no_pyc) for label, no_pyc in (("cached .pyc", False), ("no .pyc", True))}

    print()
    print(f"{'import (ms, minus bare start)':<34}" + "".join(f"{label:>14}" for label in results))
    print("-" * (34 + 14 * len(results)))
    rows = {
        label: {
            "bare": r["bare"] * 1e3,
            "libs": (r["libs"] - r["bare"]) * 1e3,
            "app": (r["app"] - r["bare"]) * 1e3,
            "libs_gc": (r["libs_gc_paused"] - r["bare"]) * 1e3,
            "checkout": (r["app_checkout"] - r["bare"]) * 1e3,
            "every": (r["app_every_route"] - r["bare"]) * 1e3,
        }
        for label, r in results.items()
    }
    print(f"{'bare interpreter start (abs.)':<34}" + "".join(f"{v['bare']:>14.1f}" for v in rows.values()))
    print(f"{'third-party runtime libs':<34}" + "".join(f"{v['libs']:>14.1f}" for v in rows.values()))
    print(f"{'app (Chalice app + chalicelib)':<34}" + "".join(f"{v['app']:>14.1f}" for v in rows.values()))
    print(f"{'our share (app - libs)':<34}" + "".join(f"{v['app'] - v['libs']:>14.1f}" for v in rows.values()))
    print(f"{'libs, GC paused as app.py does':<34}" + "".join(f"{v['libs_gc']:>14.1f}" for v in rows.values()))
    # The headline compares like with like: app.py pauses the cyclic GC around its imports, so the libraries
    # are timed with the same pause. (Against the unpaused libraries the ratio would flatter the app.)
    ratios = {label: v["app"] / v["libs_gc"] for label, v in rows.items()}
    print(f"{'RATIO app / libs (both GC-paused)':<34}" + "".join(f"{r:>14.2f}" for r in ratios.values()))
    print(
        f"{'(app / unpaused libs, not a goal)':<34}" + "".join(f"{v['app'] / v['libs']:>14.2f}" for v in rows.values())
    )
    print(f"{'app + first checkout (orders.api)':<34}" + "".join(f"{v['checkout']:>14.1f}" for v in rows.values()))
    print(
        f"{'  ratio to libs (GC-paused)':<34}"
        + "".join(f"{v['checkout'] / v['libs_gc']:>14.2f}" for v in rows.values())
    )
    print(f"{'app + every route module loaded':<34}" + "".join(f"{v['every']:>14.1f}" for v in rows.values()))
    print(
        f"{'  ratio to libs (GC-paused)':<34}" + "".join(f"{v['every'] / v['libs_gc']:>14.2f}" for v in rows.values())
    )
    verdict = "OK" if ratios["cached .pyc"] <= GOAL else "ABOVE GOAL"
    print(f"\ngoal: ratio app / libs, both GC-paused, <= {GOAL} (cached .pyc): {verdict}")
    print("libs = " + ", ".join(LIBS))

    pkgs, ours = extras(args.top)
    print("\nmodules `import app` loads that the libs alone do not (-X importtime, which inflates times; median of 5)")
    print(f"{'package':<44}{'self ms':>10}{'modules':>10}")
    print("-" * 64)
    for pkg, ms, count in pkgs:
        print(f"{pkg:<44}{ms:>10.1f}{count:>10}")
    print("\nour modules by cost beyond the libs (own code + anything non-lib they pull in)")
    print(f"{'module':<44}{'beyond ms':>10}{'self ms':>10}")
    print("-" * 64)
    for mod, beyond, own in ours:
        print(f"{mod:<44}{beyond:>10.1f}{own:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
