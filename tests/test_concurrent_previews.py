"""Sessions served by one process preview at once: the base config they share is derived and validated by
several threads together, and each thread's record of the blueprints it looked up stays its own.

Found by benchmarks/load_sessions.py: with two sessions previewing at once, one preview failed with
AttributeError ('SnowDDLConfig' object has no attribute 'get_blueprints_by_type'): each derivation traced
its lookups by setting, then deleting, the shared config's methods; a second thread's trace was lost or
deleted under the first one."""
import threading
from pathlib import Path

from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"


def lookups(baseline) -> dict:
    return {key: tuple(found[1]) for key, found in baseline.derived.items()}


def test_baselines_derived_from_one_config_by_many_threads_at_once_all_succeed_alike():
    config = load_config(EXAMPLE, "").snowddl
    alone = lookups(Baseline.from_config(config))
    assert alone and any(found for found in alone.values())  # derivations do look blueprints up
    barrier = threading.Barrier(6)
    results, errors = [], []

    def derive():
        barrier.wait()
        try:
            results.append(lookups(Baseline.from_config(config)))
        except Exception as exc:  # noqa: BLE001 - what the race raised, reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=derive) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [alone] * 6  # no thread's lookups recorded in another's, none lost


def test_previews_of_many_sessions_on_one_base_at_once(services, new_user_raw):
    from app.operations import PreviewRequest
    from recipes import RECIPES

    barrier = threading.Barrier(4)
    results, errors = [], []

    def one(i):
        barrier.wait()
        try:
            results.append(PreviewRequest(services, RECIPES["new-user"], new_user_raw(f"person_{i}")).execute())
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 4 and all(r.ok for r in results)
    assert all(any(s["object"] == f"PERSON_{i}" for s in r.plan["statements"]) for i, r in enumerate(
        sorted(results, key=lambda r: r.request.name)))
