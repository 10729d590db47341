"""The offline plan and its baseline at 1,000, 5,000 and 20,000 users (issue 16).

    .venv/bin/python benchmarks/plan_scale.py [--scales 0.2 1 4] [--runs 3] [--tree DIR]

For each scale, generates the tree (benchmarks/generate.py, every count times the scale: 0.2 is 1,000
users, 1 the 5,000-users tree, 4 is 20,000 users) unless --tree gives one, then runs each measurement
in a fresh process (`--runs` times) and prints min / median / max of wall and CPU seconds:

- the baseline of the base commit built from nothing (the first plan of a process);
- re-validation and plan of one-object changes through the portal's path (validate_with_changes,
  plan_changes): a user added, a business role reading one more schema, a schema's params.yaml, a
  warehouse's size;
- a new-user preview end to end (app.operations.shared.preview: parse, build, diff, validation, plan);
- the baseline of the next base commit, differing by one file (user.yaml), loaded on its own as a new
  commit is, derived from the last baseline in the process; writing the base commit's baseline to the
  workspace cache (`keep`, done in the background by the portal);
- after a restart, each in a new process with only the base commit's file in the cache: the base
  commit's baseline read back from its file, and the next commit's baseline derived from that file
  (the restarted portal one merge later), then the plan of one user added on that derived baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_RUN = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from core.keys import generate_key_pair
from core.snowddl import baseline_cache, commit_snapshot
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, plan_changes, validate_with_changes
from app.operations.shared.preview import preview
from recipes import RECIPES

tree, cache, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[4]
baseline_cache.write_later = lambda *a: None  # written below, timed on its own
out = {}

def timed(name, fn):
    t, c = time.perf_counter(), time.process_time()
    value = fn()
    out[name] = [time.perf_counter() - t, time.process_time() - c]
    return value

if mode != "main":  # a restarted process: only the base commit's file in the cache, nothing built yet
    if mode == "same":
        kept = Snapshot(tree, "a0a0a0a", load_config(tree), cache=cache)
    else:  # the next commit's own folder, as the portal exports it
        tree = Path(sys.argv[5])
        kept = Snapshot(tree, "b0b0b0b", load_config(tree), cache=cache)
    timed(f"restart_{mode}", kept.baseline)
    if mode == "next":
        more = kept.text("user.yaml") + "\nBENCH_OTHER_USER:\n  type: PERSON\n  business_roles:\n    - ROLE_0002\n"
        head = validate_with_changes(kept, {"user.yaml": more})
        plan = timed("restart_plan", lambda: plan_changes(kept, head))
        assert not plan.errors and len(plan.statements) == 5, plan
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    sys.exit()
base = timed("load", lambda: Snapshot(tree, "a0a0a0a", load_config(tree), cache=cache))
timed("baseline", base.baseline)
users = base.text("user.yaml") + "\nBENCH_NEW_USER:\n  type: PERSON\n  first_name: Bench\n  last_name: Mark\n  business_roles:\n    - ROLE_0001\n"
params = base.text("DB_007/SCH_2/params.yaml") + "retention_time: 3\n"
roles = base.text("business_role.yaml")
entry = roles[roles.index("\nROLE_0002:"):roles.index("\nROLE_0003:")]
extra = next(f"{d.name}.{s.name}" for d in sorted(tree.iterdir()) if d.is_dir() for s in sorted(d.iterdir())
             if s.is_dir() and f"- {d.name}.{s.name}\n" not in entry)  # a schema it does not read yet
roles = roles.replace("\nROLE_0002:\n  schema_read:\n", f"\nROLE_0002:\n  schema_read:\n    - {extra}\n", 1)
whs = base.text("warehouse.yaml").replace("\nWH_003:\n  size: ", "\nWH_003:\n  size: X4LARGE\n  x_size: ", 1).replace("\n  x_size: XSMALL", "").replace("\n  x_size: SMALL", "").replace("\n  x_size: MEDIUM", "").replace("\n  x_size: LARGE", "")
for name, files in (("user_added", {"user.yaml": users}), ("business_role_changed", {"business_role.yaml": roles}),
                    ("schema_params_changed", {"DB_007/SCH_2/params.yaml": params}), ("warehouse_changed", {"warehouse.yaml": whs})):
    head = timed(f"validate_{name}", lambda: validate_with_changes(base, files))
    assert head.validation.valid, name
    plan = timed(f"plan_{name}", lambda: plan_changes(base, head))
    assert not plan.errors, plan.errors
    out[f"statements_{name}"] = len(plan.statements)
raw = {"name": "bench_person", "first_name": "Bench", "last_name": "Person", "email": "bench@x.example",
       "rsa_public_key": generate_key_pair().public_pem, "business_roles": ["ROLE_0001"],
       "justification": "Needed for the benchmark this quarter."}
for label in ("preview_new_user", "preview_new_user_again"):
    result = timed(label, lambda: preview(RECIPES["new-user"], raw, base))
    assert result.ok and result.validation.valid and result.plan["statements"], result.field_errors
next_config = timed("load_next_commit", lambda: load_config(tree, overlay={"user.yaml": users}))
nxt = Snapshot(tree, "b0b0b0b", next_config, cache=cache)
timed("baseline_next_commit", nxt.baseline)
timed("keep", lambda: baseline_cache.write(cache, "a0a0a0a", base.baseline()))
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""

ROWS = [
    ("load", "first load of the base commit (validation)"),
    ("baseline", "baseline of the base commit, from nothing"),
    ("validate_user_added", "re-validate: one user added"),
    ("plan_user_added", "plan: one user added"),
    ("validate_business_role_changed", "re-validate: business role reads one more schema"),
    ("plan_business_role_changed", "plan: business role reads one more schema"),
    ("validate_schema_params_changed", "re-validate: a schema's params.yaml"),
    ("plan_schema_params_changed", "plan: a schema's params.yaml"),
    ("validate_warehouse_changed", "re-validate: a warehouse's size"),
    ("plan_warehouse_changed", "plan: a warehouse's size"),
    ("preview_new_user", "new-user preview end to end (diff, validation, plan)"),
    ("preview_new_user_again", "the same preview again"),
    ("load_next_commit", "load of the next base commit (one file differs)"),
    ("baseline_next_commit", "baseline of the next base commit, from the last one"),
    ("keep", "writing the base commit's baseline to the workspace cache (background)"),
    ("restart_same", "after a restart: the base commit's baseline, from its file"),
    ("restart_next", "after a restart: the next commit's baseline, from the base's file"),
    ("restart_plan", "after a restart: plan of one user added on that baseline"),
]


def _span(values: list[float], digits: int = 2) -> str:
    """min / median / max."""
    values = sorted(values)
    return " / ".join(f"{v:.{digits}f}" for v in (values[0], values[len(values) // 2], values[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.2, 1.0, 4.0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", help="an existing tree (only with one scale)")
    args = parser.parse_args()
    from benchmarks.generate import generate, scaled

    for scale in args.scales:
        with tempfile.TemporaryDirectory(prefix="snowtower-plan-") as tmp:
            counts = scaled(scale)
            tree = Path(args.tree) if args.tree else generate(Path(tmp) / "config", **counts)
            size = sum(p.stat().st_size for p in tree.rglob("*.yaml"))
            print(f"\nscale {scale}: {counts['users']:,} users, {counts['business_roles']:,} business roles, "
                  f"{counts['databases'] * 5:,} schemas, {size / 1e6:.1f} MB; load average {os.getloadavg()[0]:.1f}")
            following = Path(tmp) / "next"  # the next commit: user.yaml with one user more
            shutil.copytree(tree, following)
            with open(following / "user.yaml", "a", encoding="utf-8") as fh:
                fh.write("\nBENCH_NEW_USER:\n  type: PERSON\n  business_roles:\n    - ROLE_0001\n")
            runs = []
            for _ in range(args.runs):
                cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
                run = {}
                for mode in ("main", "same", "next"):  # each in its own process
                    done = subprocess.run([sys.executable, "-c", _RUN, str(tree), str(cache), str(ROOT), mode, str(following)],
                                          capture_output=True, text=True)
                    if done.returncode:
                        print(done.stderr[-3000:])
                        return 1
                    part = json.loads(done.stdout.strip().splitlines()[-1])
                    part[f"max_rss_mb_{mode}"] = part.pop("max_rss_mb")
                    run.update(part)
                runs.append(run)
            for key, label in ROWS:
                wall = [r[key][0] for r in runs]
                cpu = [r[key][1] for r in runs]
                print(f"  {label:70s} wall {_span(wall)} s  cpu {_span(cpu)} s")
            stmts = {k.removeprefix("statements_"): v for k, v in runs[0].items() if k.startswith("statements_")}
            rss = {mode: [r[f"max_rss_mb_{mode}"] for r in runs] for mode in ("main", "same", "next")}
            print(f"  statements: {stmts}; peak memory (MB) {', '.join(f'{m} {_span(v, 0)}' for m, v in rss.items())}; "
                  f"load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
