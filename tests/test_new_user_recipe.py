"""The new-user recipe is pure: base config + request -> change set, or field errors."""
import shutil
from pathlib import Path

import pytest
import yaml

from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes
from recipes import RECIPES, FieldErrors

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"
RECIPE = RECIPES["new-user"]


@pytest.fixture(scope="module")
def base() -> Snapshot:
    return Snapshot(EXAMPLE, None, load_config(EXAMPLE))


@pytest.fixture
def raw(public_pem) -> dict:
    return {
        "name": "jane_doe", "first_name": "Jane", "last_name": "O'Doe", "email": "jane@cascaderidge.example",
        "rsa_public_key": public_pem, "business_roles": ["ANALYST", "FINANCE_ANALYST"],
        "default_warehouse": "ANALYST_WH", "justification": "Joins the finance analytics team.",
    }


def build(base, raw):
    return RECIPE.build(base, RECIPE.parse(raw, base))


def errors_of(base, raw) -> dict:
    with pytest.raises(FieldErrors) as err:
        RECIPE.parse(raw, base)
    return err.value.by_field()


def test_person_user_is_appended_to_user_yaml_and_snowddl_accepts_it(base, raw):
    changes = build(base, raw)
    assert list(changes.files) == ["user.yaml"]
    before = base.text("user.yaml")
    after = changes.files["user.yaml"]
    assert after.startswith(before)
    entry = yaml.safe_load(after)["JANE_DOE"]
    assert entry["type"] == "PERSON"
    assert entry["last_name"] == "O'Doe"
    assert entry["business_roles"] == ["ANALYST", "FINANCE_ANALYST"]
    assert "BEGIN" not in entry["rsa_public_key"] and "\n" not in entry["rsa_public_key"]
    assert validate_with_changes(base, changes.files).validation.valid
    assert changes.title == "New person user JANE_DOE"


def test_service_user_has_a_key_and_no_names(base, raw):
    raw = {k: v for k, v in raw.items() if k not in ("first_name", "last_name", "email")}
    raw.update(name="svc_airbyte", type="SERVICE", business_roles="LOADER")
    entry = yaml.safe_load(build(base, raw).files["user.yaml"])["SVC_AIRBYTE"]
    assert entry["type"] == "SERVICE" and "first_name" not in entry and "email" not in entry and "password" not in entry
    raw["email"] = "x@y.example"
    assert "email" in errors_of(base, raw)


def test_every_field_error_is_reported_at_once(base, raw, private_pem):
    raw.update(name="bad name", email="nope", rsa_public_key=private_pem, business_roles=["NOT_A_ROLE"],
               default_warehouse="NO_WH", justification="")
    errors = errors_of(base, raw)
    assert set(errors) == {"name", "email", "rsa_public_key", "business_roles", "default_warehouse", "justification"}
    assert "PRIVATE key" in errors["rsa_public_key"]
    assert "NOT_A_ROLE" in errors["business_roles"]


@pytest.mark.parametrize("name", ['x"y', "a\nb", "a..b", "a;DROP USER X", "a: b", "", "a b", "{x}", "'", "A__B"])
def test_hostile_names_are_field_errors(base, raw, name):
    raw["name"] = name
    assert "name" in errors_of(base, raw)


def test_existing_user_and_unknown_fields_are_refused(base, raw):
    raw["name"] = base.config.users[0].lower()
    assert "already exists" in errors_of(base, raw)["name"]
    raw["name"] = "new_one"
    raw["password"] = "hunter2"
    assert "password" in errors_of(base, raw)


def test_business_roles_are_required(base, raw):
    raw["business_roles"] = []
    assert "business_roles" in errors_of(base, raw)


def test_the_request_round_trips_for_re_applying(base, raw):
    request = RECIPE.parse(raw, base)
    again = RECIPE.parse(RECIPE.to_dict(request), base)
    assert again == request


def test_build_is_pure(tmp_path, base, raw):
    copy = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, copy)
    snap = Snapshot(copy, None, load_config(copy))
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    build(snap, raw)
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
