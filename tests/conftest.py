"""Shared fixtures: test keys generated at test time (no key is ever committed), fresh workspaces."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.bcrypt_cost import product_cost, use_lowest_cost  # noqa: F401  (product_cost: a fixture)
from tests.standin_cache import start_run, use_standin_cache

use_lowest_cost()  # the demo logins' and test users' hashes: bcrypt's cost 4, not 12 (tests/bcrypt_cost.py says why)


def _scan_components_once() -> None:
    """Streamlit's AppTest scans every installed distribution's metadata for Streamlit components at the first run
    of each new AppTest (streamlit.components.v2.manifest_scanner.scan_component_manifests; a server does it once,
    at its start): 0.13 to 0.2 CPU-s each; five page-test files took 42.5 CPU-s with it, 36.4 without. The installed
    packages do not change during a test run: the scan is made once per process, and each AppTest gets its own copy
    of the list."""
    import functools

    from streamlit.components.v2 import manifest_scanner

    if getattr(manifest_scanner.scan_component_manifests, "once", False):
        return
    scan = functools.cache(manifest_scanner.scan_component_manifests)

    def scan_component_manifests(max_workers=None):
        return list(scan(max_workers))

    scan_component_manifests.once = True  # type: ignore[attr-defined]
    manifest_scanner.scan_component_manifests = scan_component_manifests


_scan_components_once()
_STANDINS_MADE_HERE = start_run()  # one demo account per set of inputs for the whole run (tests/standin_cache.py)
use_standin_cache()


def pytest_unconfigure(config):
    if _STANDINS_MADE_HERE:
        import shutil

        shutil.rmtree(_STANDINS_MADE_HERE, ignore_errors=True)


def _pem_public(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def public_pem(rsa_key) -> str:
    return _pem_public(rsa_key)


@pytest.fixture(scope="session")
def private_pem(rsa_key) -> str:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def small_rsa_public() -> str:
    return _pem_public(rsa.generate_private_key(public_exponent=65537, key_size=1024))


@pytest.fixture(scope="session")
def ec_public() -> str:
    return _pem_public(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def services(tmp_path):
    """A fresh demo workspace: real git repository seeded from the example, real SQLite records."""
    from app.services import build_services
    from app.settings import load_settings

    return build_services(load_settings(tmp_path / "workspace"))


@pytest.fixture
def people():
    from core.changes.model import Actor

    return {
        "requester": Actor("requester", "Riley Requester", "requester@snowtower.example", ("requester",)),
        "approver": Actor("approver", "Avery Approver", "approver@snowtower.example", ("requester", "approver")),
        "admin": Actor("admin", "Ada Admin", "admin@snowtower.example", ("requester", "approver", "admin")),
    }


@pytest.fixture
def new_user_raw(public_pem):
    def make(name="jane_doe", **extra):
        raw = {
            "name": name, "first_name": "Jane", "last_name": "Doe", "email": f"{name}@cascaderidge.example",
            "rsa_public_key": public_pem, "business_roles": ["ANALYST"], "default_warehouse": "ANALYST_WH",
            "justification": "Joins the marketing analytics team.",
        }
        raw.update(extra)
        return raw

    return make


@pytest.fixture(autouse=True)
def _every_audit_log_verifies(request):
    """After each test that used tmp_path: every SQLite audit log it wrote (a workspace's snowtower.db)
    has an intact hash chain (app.audit_record.verify_chain), unless the test is marked audit_tampered. Read
    with plain sqlite3: checking opens or changes nothing."""
    if "tmp_path" not in request.fixturenames or request.node.get_closest_marker("audit_tampered"):
        yield
        return
    root = request.getfixturevalue("tmp_path")
    yield
    import sqlite3

    from app.audit import _record
    from app.audit_record import COLUMNS, verify_chain

    for path in root.rglob("*.db"):
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                if "hash" not in {row[1] for row in db.execute("PRAGMA table_info(audit_log)")}:
                    continue
                rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY seq").fetchall()
            finally:
                db.close()
        except sqlite3.DatabaseError:  # not SQLite (DuckDB's files end in .db too)
            continue
        report = verify_chain([_record(r) for r in rows])
        assert report.ok, f"the audit log {path.relative_to(root)} this test wrote fails verify: {report.message()}"


# The order the files are handed to the workers. ./dev runs the suite on xdist workers, each file whole on one
# worker (--dist loadfile), in the order collected here (--no-loadscope-reorder). The CPU is the limit: a browser
# file mostly waits (on its demo server and Chromium), the others compute. Collected by name, the 17 browser
# files came first or, reordered by xdist by their number of tests, last: then the workers sat waiting on
# browsers while the CPU had little to do. Here the long files come first (the last ones to finish are short)
# and the browser files are spread among the others in proportion to their time, so some workers wait on
# browsers while the rest keep both cores busy. The order changes nothing a test does or asserts.
FILE_SECONDS = {  # wall seconds of each file run alone beside one other (2026-12-08, 111 files); others: per test below
    "test_plan_incremental.py": 113, "test_inbox_phone_browser.py": 82, "test_recipe_pages_browser.py": 80,
    "test_grant_form_browser.py": 77, "test_findings_screens_browser.py": 69, "test_demo_flow.py": 66,
    "test_deploy.py": 56, "test_github_scale.py": 49, "test_signin_browser.py": 46, "test_github_trust.py": 43,
    "test_cost_browser.py": 42, "test_access_review_browser.py": 42, "test_github_faults.py": 38,
    "test_cost_page.py": 36, "test_cost_meaning_browser.py": 36, "test_security_browser.py": 33,
    "test_review_dark_sticky_browser.py": 33, "test_concurrency.py": 33, "test_crash_audit.py": 33,
    "test_review_stale_click.py": 32, "test_review_browser.py": 32, "test_github_rules.py": 32,
    "test_demo_account.py": 30, "test_sis.py": 29, "test_attacks.py": 28, "test_authorization_browser.py": 28,
    "test_signin.py": 27, "test_recipe_properties.py": 26, "test_renew_browser.py": 25, "test_audit_chain.py": 24,
    "test_identity.py": 24, "test_expire.py": 23, "test_audit_anchor_github.py": 22, "test_github_openapi.py": 22,
    "test_notify_deployed.py": 22, "test_github_backend.py": 21, "test_home_links_browser.py": 19,
    "test_expiry_attacks.py": 19, "test_pages.py": 16, "test_authorization.py": 16, "test_imports.py": 15,
    "test_package.py": 15, "test_github_gate.py": 15, "test_notifications.py": 14, "test_build_checks.py": 14,
    "test_workflows.py": 14, "test_audit.py": 14, "test_review_queue.py": 13, "test_findings_list.py": 13,
    "test_revert.py": 13, "test_init.py": 12, "test_dashboard_text.py": 11, "test_cost_recommendations.py": 11,
    "test_setup_check.py": 11, "test_withdraw.py": 11, "test_issue_form.py": 10, "test_recipe_pages.py": 10,
    "test_operations.py": 10, "test_review_reminders.py": 9, "test_security_page.py": 9,
}
SECONDS_PER_TEST = 0.25  # the other files' mean in that census


def pytest_collection_modifyitems(session, config, items):
    if not hasattr(config, "workerinput"):  # a serial run keeps pytest's order (and --ff/--lf theirs)
        return
    files: dict = {}
    for item in items:
        files.setdefault(item.path, []).append(item)
    if len(files) < 2:
        return

    def seconds(path) -> float:
        return FILE_SECONDS.get(path.name, SECONDS_PER_TEST * len(files[path]))

    def longest_first(paths) -> list:
        return sorted(paths, key=lambda p: (-seconds(p), str(p)))

    browser = longest_first(p for p in files if "browser" in p.parts)
    others = longest_first(p for p in files if "browser" not in p.parts)
    total_browser, total_others = sum(map(seconds, browser)) or 1, sum(map(seconds, others)) or 1
    order, done_browser, done_others = [], 0.0, 0.0
    while browser or others:  # the list whose share of its own total is behind goes next
        if browser and (not others or done_browser / total_browser <= done_others / total_others):
            path = browser.pop(0)
            done_browser += seconds(path)
        else:
            path = others.pop(0)
            done_others += seconds(path)
        order.append(path)
    items[:] = [item for path in order for item in files[path]]
