"""Run the DynamoDB Local race tests N times over (default 20) and print `passed X/N`.

Each round is a fresh pytest session (a fresh DynamoDB Local), as a CI run is; a round passes when every race
test in it passes. Each race test asserts its final numbers AND that contention really happened (conditional-
check cancellations > 0, peak in flight >= half the workers), so a round that passes saw a real race. Prints per
round the wall time and the failures, and at the end the contention each race saw over the rounds.

    .venv/bin/python bench/race_soak.py [N]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RACE_TESTS = [
    "tests/integration/test_campaign_runs_ddb.py",
    "tests/integration/test_checkout_race_ddb.py",
    "tests/integration/test_coupon_races_ddb.py",
    "tests/integration/test_distribution_race_ddb.py",
    "tests/integration/test_idempotency_ddb.py",
    "tests/integration/test_identity_ddb.py",
    "tests/integration/test_printing_ddb.py",
    "tests/integration/test_wallet_race_ddb.py",
]


def one_round(figures: Path) -> tuple[bool, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *RACE_TESTS],
        cwd=ROOT,
        env={**os.environ, "RACE_FIGURES": str(figures)},
        capture_output=True,
        text=True,
    )
    lines = done.stdout.strip().splitlines()
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    why = [ln.strip() for ln in lines if ln.startswith("E ")][:3]  # the first assertion lines of a failure
    return done.returncode == 0, time.monotonic() - started, "; ".join(failed + why) or (lines[-1] if lines else "")


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv and argv[0].isdigit() else 20
    passed = 0
    seen: dict[str, list[dict]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(n):
            figures = Path(tmp) / f"round-{r}.jsonl"
            ok, took, detail = one_round(figures)
            passed += ok
            print(f"round {r + 1:>2}: {'passed' if ok else 'FAILED ' + detail} in {took:.1f} s", flush=True)
            if figures.exists():
                for line in figures.read_text().splitlines():
                    race = json.loads(line)
                    seen[race["test"]].append(race)
    if seen:
        print("contention seen per race test over the rounds (min..max):")
        for name, races in seen.items():
            c = [x["cancellations"] for x in races]
            p = [x["peak_in_flight"] for x in races]
            print(
                f"  {name}: workers {races[0]['workers']}, conditional cancellations {min(c)}..{max(c)}, "
                f"peak in flight {min(p)}..{max(p)}"
            )
    print(f"passed {passed}/{n}")
    return 0 if passed == n else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
