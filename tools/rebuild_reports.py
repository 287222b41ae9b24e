"""Recompute the report aggregates of a range of business days from the orders, and overwrite the kept ones
(``chalicelib.reports.services.rebuild``): per store and day, per store, day and sku, the chain's co-purchase
pairs, and every store's stock value. Run it when no order of the range is changing.

    python -m tools.rebuild_reports --from 2026-11-01 --to 2026-11-30   # whatever DYNAMODB_ENDPOINT / TABLE_NAME say
"""

from __future__ import annotations

import argparse
import json
from datetime import date


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.rebuild_reports", description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="frm", required=True, type=date.fromisoformat)
    ap.add_argument("--to", required=True, type=date.fromisoformat)
    args = ap.parse_args(argv)
    if args.frm > args.to:
        ap.error("--from is after --to")
    from chalicelib.reports import services

    print(json.dumps(services.rebuild(args.frm.isoformat(), args.to.isoformat())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
