"""Access reviews at scale: usage evidence for 5,000 users x 3 business roles over a year of ACCESS_HISTORY,
and the Access review page with a campaign of that size.

    .venv/bin/python benchmarks/access_review.py [--every 2] [--runs 3]

Generates the tree of benchmarks/generate.py (5,000 users, 1,000 business roles, ...), builds its baseline and
role graph, then writes a stand-in (core.snowflake.demo_security_views.access_history) whose ACCESS_HISTORY holds, for every
user, one object of each of their first two business roles' own schemas read every `--every` days for a year
(the third role unused). Timed, `--runs` times: object_use.sql over the year (fakesnow over DuckDB, FLATTEN
of the three arrays), core.findings.usage.evidence for every grant. Then a campaign of every grant is written
to a demo workspace's campaigns.db and the page is opened under AppTest as an admin: first (cold) and warm runs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=int, default=2, help="days between two uses of a used role's object")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import duckdb

    from benchmarks.generate import generate
    from core.findings import usage
    from core.findings.access import graph_of
    from core.snowddl.config_loader import load_config
    from core.snowddl.commit_snapshot import Snapshot
    from core.snowflake import demo_planted, demo_security_views
    from core.snowflake.connect import STANDIN_FILE, standin_source
    from core.snowflake.queries import ask

    end = dt.date(2026, 3, 29)
    as_of = dt.datetime(2026, 3, 30, 9, tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        tree = generate(Path(tmp) / "tree")
        base, wall, _ = timed(lambda: Snapshot(tree.resolve(), "a0a0a0a", load_config(tree)))
        print(f"config loaded: {wall:.2f} s")
        baseline, wall, _ = timed(base.baseline)
        print(f"baseline: {wall:.2f} s")
        g = graph_of(baseline)
        plan = []
        grants = 0
        for user in sorted(g.user_role):
            roles = usage.business_roles(g, user)
            grants += len(roles)
            for role in roles[:2]:
                read, _ = usage.scopes(g.effective(role), g.prefix)
                if read:
                    plan.append((user, sorted(read)[0] + ".T_BENCH", "read", 0, args.every))
        folder = Path(tmp) / "account"
        folder.mkdir()
        db = duckdb.connect(str(folder / STANDIN_FILE))
        db.execute("SET TimeZone = 'UTC'")
        db.execute(demo_planted._MACROS)
        db.execute("CREATE SCHEMA ACCOUNT_USAGE")
        rows, wall, _ = timed(lambda: demo_security_views.access_history(db, plan, end))
        db.execute("CHECKPOINT")
        db.close()
        print(f"{len(g.user_role):,} users, {grants:,} grants; ACCESS_HISTORY: {rows:,} rows over "
              f"{demo_security_views.ACCESS_DAYS} days, written in {wall:.1f} s")
        source = standin_source(folder)
        since = (as_of - dt.timedelta(days=usage.HISTORY_DAYS)).replace(tzinfo=None)
        query, ev = [], []
        for _ in range(args.runs):
            frame, wall, cpu = timed(lambda: ask(source, "object_use", since=since, as_of=as_of.replace(tzinfo=None)))
            query.append((wall, cpu))
            uses = usage.uses_from_frame(frame)
            found, wall, cpu = timed(lambda: usage.evidence(g, uses, as_of, 90))
            ev.append((wall, cpu))
        counts: dict[str, int] = {}
        for e in found:
            counts[e.verdict] = counts.get(e.verdict, 0) + 1
        print(f"object_use.sql: {len(frame):,} (user, object) rows; wall s min/median/max "
              + " / ".join(f"{w:.2f}" for w, _ in sorted(query)))
        print("evidence for every grant: wall s min/median/max " + " / ".join(f"{w:.2f}" for w, _ in sorted(ev))
              + f"; verdicts {counts}")

        # The page with a campaign of every grant
        from streamlit.testing.v1 import AppTest

        from app import campaigns
        from app.services import build_services
        from app.settings import load_settings
        from core.changes.model import Actor
        from portal import ui
        from tests.identity_support import give_login

        ws = Path(tmp) / "workspace"
        os.environ["SNOWTOWER_WORKSPACE"] = str(ws)
        services = build_services(load_settings(ws))
        store = campaigns.store_for(services)
        items = [(e.user, e.role, campaigns.APPROVERS, e.verdict, e.to_dict()) for e in found]
        _, wall, _ = timed(lambda: store.create("bench", "all", end + dt.timedelta(days=14), 90, "admin",
                                               as_of.isoformat(), services.changes.base_head(), items))
        print(f"campaign of {len(items):,} items written in {wall:.2f} s")
        admin = Actor("admin", "Ada Admin", "", ("requester", "approver", "admin"))
        give_login(ws / "auth.yaml", admin)
        at = AppTest.from_file(str(ROOT / "pages" / "access_review.py"), default_timeout=600)
        at.session_state[ui.VIEWER_KEY] = admin
        _, cold, _ = timed(at.run)
        assert not at.exception, at.exception
        warm = [timed(at.run) for _ in range(args.runs)]
        print(f"Access review page, {len(items):,} items, admin: cold {cold:.2f} s, warm min/median/max "
              + " / ".join(f"{w:.2f}" for _, w, _ in sorted(warm, key=lambda t: t[1]))
              + " (CPU " + " / ".join(f"{c:.2f}" for _, _, c in sorted(warm, key=lambda t: t[1])) + ")")
        # A reviewer (any approver: no role has an owner) who decides every item: the Decide form's picker
        # labels all of them.
        approver = Actor("approver", "Avery Approver", "", ("requester", "approver"))
        give_login(ws / "auth.yaml", approver)
        at = AppTest.from_file(str(ROOT / "pages" / "access_review.py"), default_timeout=600)
        at.session_state[ui.VIEWER_KEY] = approver
        _, cold, _ = timed(at.run)
        assert not at.exception, at.exception
        warm = [timed(at.run) for _ in range(args.runs)]
        print(f"Access review page, {len(items):,} items, approver: cold {cold:.2f} s, warm min/median/max "
              + " / ".join(f"{w:.2f}" for _, w, _ in sorted(warm, key=lambda t: t[1]))
              + " (CPU " + " / ".join(f"{c:.2f}" for _, _, c in sorted(warm, key=lambda t: t[1])) + ")")


if __name__ == "__main__":
    main()
