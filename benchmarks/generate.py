"""Generate a large, valid SnowDDL config: the 5,000-users tree of issue 3.

5,000 users, 1,000 business roles, 500 technical roles, 200 warehouses (with 200 resource
monitors), 200 databases x 5 schemas: about 13 MB of YAML in about 1,200 files. Deterministic (seeded),
so every run measures the same tree. RSA keys are random base64 of the right length, not real keys.

    python benchmarks/generate.py OUT_DIR [--users N] [--scale F]
"""
from __future__ import annotations

import argparse
import base64
import random
from pathlib import Path


def _key(rng: random.Random) -> str:
    return "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + base64.b64encode(rng.randbytes(256)).decode() + "IDAQAB"


def generate(out: str | Path, users: int = 5000, business_roles: int = 1000, technical_roles: int = 500,
             warehouses: int = 200, databases: int = 200, schemas: int = 5, seed: int = 3) -> Path:
    rng = random.Random(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    words = ("orders customers payments refunds inventory shipments returns campaigns sessions events "
             "invoices subscriptions products suppliers stores regions forecasts margins ledgers audits").split()

    def text(n: int) -> str:
        return " ".join(rng.choice(words) for _ in range(n))

    # Resource monitors and warehouses
    lines = ["# Resource monitors: one per warehouse\n"]
    for i in range(warehouses):
        lines.append(f"\nMON_{i:03d}:\n  credit_quota: {rng.randint(10, 500)}\n  frequency: MONTHLY\n"
                     f"  triggers:\n    50: NOTIFY\n    90: NOTIFY\n    100: SUSPEND\n    110: SUSPEND_IMMEDIATE\n")
    (out / "resource_monitor.yaml").write_text("".join(lines))
    lines = ["# Warehouses: one per team workload\n"]
    for i in range(warehouses):
        lines.append(f"\n# Warehouse {i}: {text(12)}\nWH_{i:03d}:\n  size: {rng.choice(['XSMALL', 'SMALL', 'MEDIUM', 'LARGE'])}\n"
                     f"  auto_suspend: {rng.choice([60, 120, 300])}\n  resource_monitor: MON_{i:03d}\n"
                     f"  warehouse_params:\n    statement_timeout_in_seconds: {rng.choice([600, 3600, 7200])}\n"
                     f"  comment: {text(8)}\n")
    (out / "warehouse.yaml").write_text("".join(lines))

    # Databases and schemas
    schema_names = [f"DB_{d:03d}.SCH_{s}" for d in range(databases) for s in range(schemas)]
    for d in range(databases):
        db = out / f"DB_{d:03d}"
        db.mkdir(exist_ok=True)
        comment = "\n".join(f"# {text(14)}" for _ in range(20))
        (db / "params.yaml").write_text(f"{comment}\ncomment: Database {d} for {text(10)}\nretention_time: {rng.choice([1, 7, 14])}\n")
        for s in range(schemas):
            (db / f"SCH_{s}").mkdir(exist_ok=True)
            (db / f"SCH_{s}" / "params.yaml").write_text(f"{comment}\ncomment: Schema {s} of database {d} for {text(10)}\n"
                                                           f"is_transient: {str(rng.random() < 0.2).lower()}\n")

    # Technical roles
    lines = ["# Technical roles\n"]
    for t in range(technical_roles):
        picks = rng.sample(schema_names, 6)
        grants = "".join(f"      - {p.split('.')[0]}\n" for p in picks[:3])
        schema_grants = "".join(f"      - {p}\n" for p in picks)
        lines.append(f"\n# Technical role {t}: {text(10)}\nTECH_{t:03d}:\n  grants:\n    DATABASE:USAGE:\n{grants}"
                     f"    SCHEMA:USAGE:\n{schema_grants}  future_grants:\n    TABLE:SELECT:\n{schema_grants}"
                     f"    VIEW:SELECT:\n{schema_grants}  comment: {text(8)}\n")
    (out / "technical_role.yaml").write_text("".join(lines))

    # Business roles
    lines = ["# Business roles\n"]
    for b in range(business_roles):
        reads = "".join(f"    - {p}\n" for p in rng.sample(schema_names, 60))
        writes = "".join(f"    - {p}\n" for p in rng.sample(schema_names, 12))
        techs = "".join(f"    - TECH_{t:03d}\n" for t in rng.sample(range(technical_roles), 5))
        whs = "".join(f"    - WH_{w:03d}\n" for w in rng.sample(range(warehouses), 2))
        lines.append(f"\n# Business role {b}: {text(16)}\nROLE_{b:04d}:\n  schema_read:\n{reads}  schema_write:\n{writes}"
                     f"  technical_roles:\n{techs}  warehouse_usage:\n{whs}  comment: {text(10)}\n")
    (out / "business_role.yaml").write_text("".join(lines))

    # Users
    lines = ["# Users\n"]
    for u in range(users):
        roles = "".join(f"    - ROLE_{r:04d}\n" for r in rng.sample(range(business_roles), 3))
        first, last = rng.choice(words).title(), rng.choice(words).title()
        lines.append(f"\n# User {u}: {text(24)}\nUSER_{u:05d}:\n  type: PERSON\n  first_name: {first}\n  last_name: {last}\n"
                     f"  display_name: {first} {last}\n  email: user{u}@example.com\n  rsa_public_key: {_key(rng)}\n"
                     f"  business_roles:\n{roles}  default_warehouse: WH_{rng.randrange(warehouses):03d}\n"
                     f"  comment: {text(12)}\n")
    (out / "user.yaml").write_text("".join(lines))
    return out


def scaled(scale: float) -> dict:
    """generate()'s counts for an account `scale` times the 5,000-users tree (0.2: 1,000 users, 4: 20,000):
    users, roles, warehouses and databases all grow together; five schemas per database."""
    return {"users": round(5000 * scale), "business_roles": round(1000 * scale), "technical_roles": round(500 * scale),
            "warehouses": round(200 * scale), "databases": max(13, round(200 * scale))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--users", type=int, default=None, help="number of users (default 5,000; the rest as --scale)")
    parser.add_argument("--scale", type=float, default=1.0, help="every count times F (0.2: 1,000 users, 4: 20,000)")
    args = parser.parse_args()
    counts = scaled(args.scale)
    if args.users is not None:
        counts["users"] = args.users
    out = generate(args.out, **counts)
    files = [p for p in out.rglob("*.yaml")]
    print(f"{out}: {len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
