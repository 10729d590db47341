"""Shared fixtures: test keys generated at test time (no key is ever committed), fresh workspaces."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


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
    has an intact hash chain (app.audit.verify_chain), unless the test is marked audit_tampered. Read
    with plain sqlite3: checking opens or changes nothing."""
    if "tmp_path" not in request.fixturenames or request.node.get_closest_marker("audit_tampered"):
        yield
        return
    root = request.getfixturevalue("tmp_path")
    yield
    import sqlite3

    from app.audit import COLUMNS, _record, verify_chain

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


# Seconds the slowest test files took in a clean-clone run (2026-12-07, 3 workers on 2 loaded cores; only
# their order matters). pytest-xdist runs a file on one worker (--dist loadfile): the longest files start
# first and the short ones fill in at the end. ./dev test passes --no-loadscope-reorder, since xdist's own
# order (most tests first) left the long browser files, a few tests each, to the end of the run.
SLOW_FILES = {
    "tests/test_cost_page.py": 294, "tests/test_plan_incremental.py": 200, "tests/test_demo_account.py": 165,
    "tests/browser/test_signin_browser.py": 126, "tests/test_signin.py": 118, "tests/browser/test_inbox_phone_browser.py": 108,
    "tests/test_review_queue.py": 103, "tests/test_attacks.py": 89, "tests/test_github_trust.py": 88,
    "tests/browser/test_demo_flow.py": 85, "tests/browser/test_findings_screens_browser.py": 84,
    "tests/browser/test_grant_form_browser.py": 82, "tests/test_recipe_properties.py": 77,
    "tests/browser/test_recipe_pages_browser.py": 77, "tests/test_concurrency.py": 74, "tests/browser/test_cost_browser.py": 72,
    "tests/test_identity.py": 69, "tests/test_deploy.py": 66, "tests/browser/test_access_review_browser.py": 57,
    "tests/test_authorization.py": 56, "tests/test_audit_chain.py": 56, "tests/browser/test_cost_meaning_browser.py": 54,
    "tests/test_crash_audit.py": 54, "tests/test_github_backend.py": 53, "tests/test_expiry_attacks.py": 53,
    "tests/test_audit.py": 51, "tests/test_github_scale.py": 51, "tests/browser/test_authorization_browser.py": 50,
    "tests/browser/test_security_browser.py": 50, "tests/test_cost_recommendations.py": 49, "tests/test_approval_chain.py": 48,
    "tests/test_github_faults.py": 43, "tests/browser/test_review_dark_sticky_browser.py": 41,
    "tests/browser/test_review_browser.py": 41, "tests/browser/test_renew_browser.py": 39,
    "tests/browser/test_home_links_browser.py": 37, "tests/browser/test_review_stale_click.py": 37,
}


def pytest_collection_modifyitems(config, items):
    """The slowest files first (SLOW_FILES), each file's tests in their own order, the rest as collected."""
    items.sort(key=lambda item: -SLOW_FILES.get(item.nodeid.split("::")[0], 0))
