"""Work on hostile sizes stays bounded (issue 8, item 8): how long SnowTower takes to answer

1. a new-database request whose schema list holds 64,000 names (refused: lists are capped first);
2. a grant-role preview on a config whose user.yaml is about 10 MB (40,000 users): the recipe's edit,
   the diff of the touched region, the re-validation and the offline plan.

    .venv/bin/python benchmarks/hostile_sizes.py [ROUNDS]

Prints the median and the slowest time of each, in seconds. The base config's own load (done once
per commit and cached by the portal) is printed apart.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.snowddl.config_loader import load_config  # noqa: E402
from core.snowddl.commit_snapshot import Snapshot  # noqa: E402
from app.operations.shared.preview import preview  # noqa: E402
from recipes import RECIPES  # noqa: E402

WHY = "Measuring the work on hostile sizes."


def big_user_file(config: Path, target_bytes: int = 10_000_000) -> int:
    """Appends generated users to the example's user.yaml until it is `target_bytes` long."""
    path = config / "user.yaml"
    text = path.read_text(encoding="utf-8")
    key = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "A" * 340 + "IDAQAB"
    parts, size, i = [text], len(text), 0
    while size < target_bytes:
        entry = (f"\nBULK_{i:06d}:\n  type: PERSON\n  first_name: Bulk\n  last_name: User {i}\n"
                 f"  email: bulk{i}@example.com\n  rsa_public_key: {key}\n  business_roles:\n    - ANALYST\n")
        parts.append(entry)
        size += len(entry)
        i += 1
    path.write_text("".join(parts), encoding="utf-8")
    return i


def timed(fn, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    example = ROOT / "snowddl"
    base = Snapshot(example, None, load_config(example))
    schemas = ",".join(f"S{i}" for i in range(64_000))
    raw = {"name": "PROJ_BIG", "schemas": schemas, "justification": WHY}

    def big_list():
        result = preview(RECIPES["new-database"], raw, base)
        assert "schemas" in result.field_errors, result.field_errors

    med, worst = timed(big_list, rounds)
    print(f"{'new-database, 64,000 schema names':44} median {med:6.3f} s   max {worst:6.3f} s")

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config"
        shutil.copytree(example, config)
        users = big_user_file(config)
        start = time.perf_counter()
        big = Snapshot(config, None, load_config(config))
        print(f"{'base load (once per commit, cached)':44} {time.perf_counter() - start:6.3f} s   "
              f"({users} users added, user.yaml {(config / 'user.yaml').stat().st_size / 1e6:.1f} MB)")
        grant = {"name": "TLINDQVIST", "business_roles": ["ANALYST"], "justification": WHY}

        def grant_preview():
            result = preview(RECIPES["grant-role"], grant, big)
            assert result.ok, (result.field_errors, result.validation and result.validation.errors[:3])

        med, worst = timed(grant_preview, rounds)
        print(f"{'grant-role preview, 10 MB user.yaml':44} median {med:6.3f} s   max {worst:6.3f} s")


if __name__ == "__main__":
    main()
