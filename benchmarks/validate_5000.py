"""`snowddl validate` vs `snowtower validate` on the 5,000-users tree, and the portal's re-validation.

    .venv/bin/python benchmarks/validate_5000.py [--tree DIR] [--skip-snowddl]

Generates the tree (benchmarks/generate.py) unless --tree points at one, then runs each validator
in its own process and prints wall time, CPU time, peak memory (max RSS) and exit code, checks that
both give the same verdict, and prints the ratio. Then, in one process as the portal does it: a first
load of the tree, and re-validation after a one-file change (a new user appended to user.yaml, the
biggest file; a changed schema params.yaml; a business role reading one more schema), through
core.snowddl.commit_snapshot.validate_with_changes,
and the offline plan of the one-user change (its baseline built once per base commit).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Runs a command in a child and reports its own resource usage (so each figure is that command's).
_MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": proc.returncode, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "max_rss_mb": ru.ru_maxrss / 1024}))
"""

_REVALIDATE = """
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
t = time.perf_counter(); c = time.process_time()
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes
tree = Path(sys.argv[1])
out = {"import": time.perf_counter() - t}
t = time.perf_counter(); c = time.process_time()
base = Snapshot(tree, None, load_config(tree))
out["first_load"] = [time.perf_counter() - t, time.process_time() - c, base.config.validation.valid]
users = base.text("user.yaml") + "\\nBENCH_NEW_USER:\\n  type: PERSON\\n  first_name: Bench\\n  last_name: Mark\\n  business_roles:\\n    - ROLE_0001\\n"
params = base.text("DB_007/SCH_2/params.yaml") + "retention_time: 3\\n"
roles = base.text("business_role.yaml").replace("\\nROLE_0002:\\n  schema_read:\\n", "\\nROLE_0002:\\n  schema_read:\\n    - DB_000.SCH_0\\n", 1)
for name, files in (("one_user_added", {"user.yaml": users}), ("schema_params_changed", {"DB_007/SCH_2/params.yaml": params}),
                    ("one_user_added_again", {"user.yaml": users}), ("business_role_changed", {"business_role.yaml": roles})):
    t = time.perf_counter(); c = time.process_time()
    head = validate_with_changes(base, files)
    out[name] = [time.perf_counter() - t, time.process_time() - c, head.validation.valid]
out["max_rss_mb_before_plan"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from core.snowddl.commit_snapshot import plan_changes
t = time.perf_counter(); c = time.process_time()
base.baseline()
out["baseline"] = [time.perf_counter() - t, time.process_time() - c]
head = validate_with_changes(base, {"user.yaml": users})
t = time.perf_counter(); c = time.process_time()
plan = plan_changes(base, head)
out["plan_one_user_added"] = [time.perf_counter() - t, time.process_time() - c, len(plan.statements)]
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def measure(cmd: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", help="an existing tree (default: generate one in a temporary folder)")
    parser.add_argument("--skip-snowddl", action="store_true", help="do not run snowddl validate (it takes minutes)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="snowtower-bench-") as tmp:
        tree = Path(args.tree) if args.tree else Path(tmp) / "config"
        if not args.tree:
            from benchmarks.generate import generate

            generate(tree)
        files = list(tree.rglob("*.yaml"))
        print(f"tree: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        bindir = Path(sys.executable).parent
        rows = {}
        if not args.skip_snowddl:
            rows["snowddl validate"] = measure([str(bindir / "snowddl"), "-c", str(tree), "-a", "x", "-u", "x", "-p", "x", "validate"])
        rows["snowtower validate"] = measure([str(bindir / "snowtower"), "validate", str(tree)])
        for name, r in rows.items():
            print(f"{name:20s} exit {r['code']}  wall {r['wall']:7.2f} s  cpu {r['cpu']:7.2f} s  peak {r['max_rss_mb']:6.0f} MB")
        if "snowddl validate" in rows:
            a, b = rows["snowddl validate"], rows["snowtower validate"]
            same = (a["code"] == 0) == (b["code"] == 0)
            print(f"same verdict: {same}  ({'valid' if b['code'] == 0 else 'invalid'})")
            print(f"ratio: {a['wall'] / b['wall']:.1f}x wall, {a['cpu'] / b['cpu']:.1f}x cpu")
            if not same:
                return 1
        out = subprocess.run([sys.executable, "-c", _REVALIDATE, str(tree), str(ROOT)], capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        print(f"portal path: imports {r['import']:.2f} s; first load {r['first_load'][0]:.2f} s wall / {r['first_load'][1]:.2f} s cpu")
        for name in ("one_user_added", "schema_params_changed", "one_user_added_again", "business_role_changed"):
            wall, cpu, valid = r[name]
            print(f"  re-validate, {name.replace('_', ' ')}: {wall:.2f} s wall / {cpu:.2f} s cpu (valid: {valid})")
        print(f"  offline plan: baseline (once per base commit) {r['baseline'][0]:.2f} s wall / {r['baseline'][1]:.2f} s cpu; "
              f"plan of one user added {r['plan_one_user_added'][0]:.2f} s wall / {r['plan_one_user_added'][1]:.2f} s cpu "
              f"({r['plan_one_user_added'][2]} statements)")
        print(f"  peak memory of the portal process: {r['max_rss_mb_before_plan']:.0f} MB before the plan, {r['max_rss_mb']:.0f} MB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
