"""How long a recipe's preview takes (parse + pure build + SnowDDL validation of the result) on the
example config: what a requester waits for after pressing Preview.

    .venv/bin/python benchmarks/recipe_preview.py [ROUNDS]

Prints the median and the slowest time per recipe, in milliseconds.
"""
from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.keys import generate_key_pair  # noqa: E402
from core.snowddl.config_loader import load_config  # noqa: E402
from core.snowddl.commit_snapshot import Snapshot  # noqa: E402
from app.operations.shared.preview import preview  # noqa: E402
from recipes import RECIPES  # noqa: E402


def requests(key: str) -> dict[str, dict]:
    why = "Needed for the pricing project this quarter."
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    return {
        "new-user": {"name": "jane_doe", "first_name": "Jane", "last_name": "Doe", "email": "jane@x.example",
                     "rsa_public_key": key, "business_roles": ["ANALYST"], "justification": why},
        "new-service-user": {"name": "svc_x", "rsa_public_key": key, "business_roles": ["LOADER"], "justification": why},
        "grant-role": {"name": "MOKAFOR", "business_roles": ["ANALYST"], "until": later, "justification": why},
        "revoke-role": {"name": "PRAMAN", "business_roles": ["ANALYTICS_ENGINEER"], "justification": why},
        "new-business-role": {"name": "pricing", "schema_read": ["RAW.*"], "warehouse_usage": ["ANALYST_WH"], "justification": why},
        "change-business-role": {"name": "ANALYST", "schema_read": ["ANALYTICS.MARTS"], "justification": why},
        "new-database": {"name": "proj_x", "schemas": "A,B,C", "business_roles": "READ,WRITE,OWNER", "size": "SMALL",
                         "credit_quota": 40, "justification": why},
        "new-warehouse": {"name": "x_wh", "size": "XSMALL", "auto_suspend": 60, "justification": why},
        "change-warehouse": {"name": "ANALYST_WH", "size": "LARGE", "justification": why},
        "offboard-user": {"name": "TLINDQVIST", "justification": why},
        "rotate-key": {"name": "SVC_DBT", "rsa_public_key_2": key, "justification": why},
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    example = ROOT / "snowddl"
    base = Snapshot(example, None, load_config(example))
    key = generate_key_pair().public_pem
    print(f"{'recipe':24} {'median ms':>10} {'max ms':>8}")
    for name, raw in requests(key).items():
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            result = preview(RECIPES[name], raw, base)
            times.append((time.perf_counter() - start) * 1000)
            assert result.ok, (name, result.field_errors)
        print(f"{name:24} {statistics.median(times):10.1f} {max(times):8.1f}")


if __name__ == "__main__":
    main()
