"""Run the DynamoDB Local race tests N times over (default 20) and print `passed X/N`.

One pytest session (one DynamoDB Local), the race tests collected once and run N rounds in a row; a round
passes when every race test in it passes. Each race test asserts its final numbers AND that contention really
happened (conditional-check cancellations > 0, peak in flight >= half the workers), so a round that passes saw
a real race. Prints per round the wall time and, at the end, the contention figures of the rounds.

    .venv/bin/python bench/race_soak.py [N] [-- extra pytest args]
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RACE_TESTS = [
    "tests/integration/test_checkout_race_ddb.py",
    "tests/integration/test_coupon_races_ddb.py",
    "tests/integration/test_idempotency_ddb.py",
    "tests/integration/test_identity_ddb.py",
    "tests/integration/test_printing_ddb.py",
]


class Rounds:
    """pytest plugin: repeat every collected test ``n`` times, round after round, and record outcomes."""

    def __init__(self, n: int):
        self.n = n
        self.failed: dict[int, list[str]] = defaultdict(list)
        self.started: dict[int, float] = {}
        self.ended: dict[int, float] = {}
        self.per_round = 0

    def pytest_collection_modifyitems(self, session, config, items):
        self.per_round = len(items)
        items[:] = items * self.n

    def pytest_runtestloop(self, session):
        # the same item object repeats: number the positions, not the objects
        self.positions = iter(range(len(session.items)))

    def pytest_runtest_logstart(self, nodeid, location):
        self.current = next(self.positions) // self.per_round
        self.started.setdefault(self.current, time.monotonic())

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed[self.current].append(f"{report.nodeid} ({report.when})")
        self.ended[self.current] = time.monotonic()


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv and argv[0].isdigit() else 20
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    rounds = Rounds(n)
    code = pytest.main(
        ["-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), *extra, *[str(ROOT / t) for t in RACE_TESTS]],
        plugins=[rounds],
    )
    print()
    for r in range(n):
        took = rounds.ended.get(r, 0) - rounds.started.get(r, 0)
        status = "FAILED " + "; ".join(rounds.failed[r]) if rounds.failed[r] else "passed"
        print(f"round {r + 1:>2}: {status} in {took:.1f} s ({rounds.per_round} race tests)")
    passed = sum(1 for r in range(n) if r in rounds.started and not rounds.failed[r])
    from tests.integration.conftest import RACES

    figures: dict[str, list] = defaultdict(list)
    for name, race in RACES:
        figures[name].append(race)
    if figures:
        print("contention seen per race test over the rounds (min..max):")
        for name, races in figures.items():
            c = [r.cancellations for r in races]
            p = [r.peak_in_flight for r in races]
            print(
                f"  {name}: workers {races[0].workers}, conditional cancellations {min(c)}..{max(c)}, "
                f"peak in flight {min(p)}..{max(p)}"
            )
    print(f"passed {passed}/{n}")
    return 0 if passed == n and code == 0 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
