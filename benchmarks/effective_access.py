"""Effective access (app.access) on the 5,000-users tree: what it adds to a preview.

    .venv/bin/python benchmarks/effective_access.py [--tree DIR] [--runs 3]

Generates the tree of benchmarks/generate.py (5,000 users, 1,000 business roles, 500 technical roles,
200 warehouses, 200 databases x 5 schemas) unless --tree gives one, loads it as a base commit and builds its
baseline (once per base commit, as the portal does), then for each change, `--runs` times in this process:
re-validation (validate_with_changes, the preview's own step, for scale), then the effective access
(`app.access.between` with its cache cleared: the head's baseline derived from the base's, and the walk),
split into the head's baseline and the walk (core.findings.access.access_change). The first run of the
first change also builds the base graph (once per base commit). Prints min / median / max wall and CPU
seconds, and the number of users, lines and changed roles found.

Changes: a user granted one more business role; a business role reading one more schema (its ~15 users);
a technical role granting on one more schema (every business role holding it, and their users); a new
user (everything their roles give); a warehouse's size (no role changes: nobody is looked at).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _span(values: list[float]) -> str:
    values = sorted(values)
    return " / ".join(f"{v:.3f}" for v in (values[0], values[len(values) // 2], values[-1]))


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - t, time.process_time() - c


def changes(base) -> dict[str, dict[str, str]]:
    users = base.text("user.yaml")
    first = re.search(r"\n(USER_\d+):\n(?:  .*\n)*?  business_roles:\n((?:    - .*\n)+)", users)
    held = set(re.findall(r"- (\S+)", first.group(2)))
    extra = next(f"ROLE_{i:04d}" for i in range(1000) if f"ROLE_{i:04d}" not in held)
    granted = users[:first.end()] + f"    - {extra}\n" + users[first.end():]
    new_user = users + "\nBENCH_NEW_USER:\n  type: PERSON\n  first_name: Bench\n  last_name: Mark\n  business_roles:\n    - ROLE_0001\n"
    roles = base.text("business_role.yaml")
    entry = roles[roles.index("\nROLE_0002:"):roles.index("\nROLE_0003:")]
    schema = next(f"{d.name}.{s.name}" for d in sorted(base.root.iterdir()) if d.is_dir() for s in sorted(d.iterdir())
                  if s.is_dir() and f"- {d.name}.{s.name}\n" not in entry)
    roles = roles.replace("\nROLE_0002:\n  schema_read:\n", f"\nROLE_0002:\n  schema_read:\n    - {schema}\n", 1)
    tech = base.text("technical_role.yaml")
    tech = tech.replace("\nTECH_007:\n  grants:\n    DATABASE:USAGE:\n", "\nTECH_007:\n  grants:\n    DATABASE:USAGE:\n      - DB_199\n", 1)
    whs = base.text("warehouse.yaml")
    m = re.search(r"\nWH_003:\n  size: (\w+)\n", whs)
    whs = whs[:m.start(1)] + ("X4LARGE" if m.group(1) != "X4LARGE" else "SMALL") + whs[m.end(1):]
    return {"user granted a business role": {"user.yaml": granted}, "business role reads one more schema": {"business_role.yaml": roles},
            "technical role grants on one more database": {"technical_role.yaml": tech}, "new user": {"user.yaml": new_user},
            "a warehouse's size (no role changes)": {"warehouse.yaml": whs}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", help="an existing tree (default: generate the 5,000-users tree)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from app import access as app_access
    from core.findings.access import access_change
    from core.snowddl.config_loader import load_config
    from core.snowddl.baseline import Baseline
    from core.snowddl.commit_snapshot import Snapshot, validate_with_changes

    with tempfile.TemporaryDirectory(prefix="snowtower-access-") as tmp:
        tree = Path(args.tree) if args.tree else None
        if tree is None:
            from benchmarks.generate import generate

            tree = generate(Path(tmp) / "tree")
        base, wall, cpu = timed(lambda: Snapshot(tree.resolve(), "a0a0a0a", load_config(tree)))
        print(f"load of the base commit: {wall:.2f} s wall, {cpu:.2f} s CPU")
        before, wall, cpu = timed(base.baseline)
        print(f"baseline of the base commit: {wall:.2f} s wall, {cpu:.2f} s CPU")
        results = {}
        for label, files in changes(base).items():
            row = {"validate": [], "access": [], "head_baseline": [], "walk": []}
            for _ in range(args.runs):
                head, wall, cpu = timed(lambda: validate_with_changes(base, files))
                assert head.validation.valid, (label, head.validation.to_dict())
                row["validate"].append((wall, cpu))
                app_access._CACHE.clear()
                result, wall, cpu = timed(lambda: app_access.between(base, head, files))
                assert not result.error, result.error
                row["access"].append((wall, cpu))
                after, wall, cpu = timed(lambda: Baseline.from_config(head.snowddl, previous=before))
                row["head_baseline"].append((wall, cpu))
                again, wall, cpu = timed(lambda: access_change(before, after))
                row["walk"].append((wall, cpu))
                assert again.to_dict() == result.to_dict()
            row["users"] = len(result.users)
            row["lines"] = len(result.changes)
            row["already"] = len(result.unchanged)
            row["roles"] = len(result.roles)
            results[label] = row
        print(f"\n{args.runs} runs each, min / median / max seconds (wall; CPU)")
        print("| change | users looked at | lines gained/lost | already/kept | changed business/technical roles | re-validation | effective access (added to the preview) | of which: head baseline | walk |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, row in results.items():
            def cell(key):
                return f"{_span([w for w, _ in row[key]])} ({_span([c for _, c in row[key]])} CPU)"
            print(f"| {label} | {row['users']} | {row['lines']} | {row['already']} | {row['roles']} | {cell('validate')} | "
                  f"{cell('access')} | {cell('head_baseline')} | {cell('walk')} |")
        print(json.dumps({k: {kk: v for kk, v in r.items()} for k, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
