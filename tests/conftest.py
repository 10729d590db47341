"""Shared fixtures: test keys generated at test time (no key is ever committed), fresh workspaces."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.bcrypt_cost import use_lowest_cost

use_lowest_cost()  # the demo logins' and test users' hashes: bcrypt's cost 4, not 12 (tests/bcrypt_cost.py says why)


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
