"""Each recipe on the example config: the diff is exactly the request, SnowDDL accepts it, bad input is a field error."""
import datetime as dt
from pathlib import Path

import pytest
import yaml

from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes
from recipes import RECIPES, SYSTEM_RECIPES, FieldErrors
from core import expiry
from tests.test_edit import changed_lines

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"
WHY = "Needed for the pricing project this quarter."
LATER = (dt.date.today() + dt.timedelta(days=60)).isoformat()


@pytest.fixture(scope="module")
def base() -> Snapshot:
    return Snapshot(EXAMPLE, None, load_config(EXAMPLE))


def run(base, recipe_name, **raw):
    recipe = RECIPES[recipe_name]
    changes = recipe.build(base, recipe.parse({"justification": WHY, **raw}, base))
    assert validate_with_changes(base, changes.files).validation.valid
    return changes


def errors(base, recipe_name, **raw) -> dict:
    with pytest.raises(FieldErrors) as err:
        RECIPES[recipe_name].parse({"justification": WHY, **raw}, base)
    return err.value.by_field()


def lines(base, changes, rel):
    return changed_lines(base.text(rel), changes.files[rel])


def test_every_recipe_is_reachable_by_name_with_fields_named_after_snowddl_keys():
    assert set(RECIPES) == {"new-user", "new-service-user", "grant-role", "revoke-role", "new-business-role",
                            "change-business-role", "new-database", "new-warehouse", "change-warehouse", "remove-warehouse",
                            "offboard-user", "rotate-key", "promote-key", "remove-password"}
    for recipe in RECIPES.values():
        assert recipe.field("justification").required, recipe.name
        assert not {"requester", "requested_by", "user"} & {f.name for f in recipe.fields}  # identity comes from sign-in
        assert recipe.touches and recipe.page


def test_new_service_user_has_a_key_and_never_a_password(base, public_pem):
    changes = run(base, "new-service-user", name="svc_airbyte", rsa_public_key=public_pem, business_roles="LOADER")
    entry = yaml.safe_load(changes.files["user.yaml"])["SVC_AIRBYTE"]
    assert entry["type"] == "SERVICE" and entry["rsa_public_key"] and "password" not in entry
    assert "first_name" in errors(base, "new-service-user", name="svc_x", rsa_public_key=public_pem,
                                  business_roles="LOADER", first_name="Bob")
    assert "type" in errors(base, "new-service-user", name="svc_x", type="PERSON", rsa_public_key=public_pem, business_roles="LOADER")
    assert "password" in errors(base, "new-service-user", name="svc_x", rsa_public_key=public_pem, business_roles="LOADER", password="x" * 20)


def test_grant_adds_one_line_and_a_time_bound_grant_records_its_end_date(base):
    changes = run(base, "grant-role", name="mokafor", business_roles=["ANALYST"], until=LATER)
    removed, added = lines(base, changes, "user.yaml")
    assert removed == [] and added == ["    - ANALYST"]
    grants, problems = expiry.parse(changes.files[expiry.EXPIRY_FILE])
    assert problems == [] and [(g.user, g.role, g.until, g.reason) for g in grants] == [
        ("MOKAFOR", "ANALYST", dt.date.fromisoformat(LATER), WHY)]
    assert LATER in changes.title and LATER in changes.summary
    assert "already has" in errors(base, "grant-role", name="mokafor", business_roles=["DATA_ENGINEER"])["business_roles"]
    assert "after today" in errors(base, "grant-role", name="mokafor", business_roles=["ANALYST"], until="2001-01-01")["until"]
    assert "YYYY-MM-DD" in errors(base, "grant-role", name="mokafor", business_roles=["ANALYST"], until="next week")["until"]


def test_revoke_removes_only_that_line(base):
    changes = run(base, "revoke-role", name="praman", business_roles="ANALYTICS_ENGINEER")
    assert lines(base, changes, "user.yaml") == (["    - ANALYTICS_ENGINEER"], [])
    assert "does not have" in errors(base, "revoke-role", name="praman", business_roles="LOADER")["business_roles"]


def test_offboard_disables_and_removes_every_role(base):
    changes = run(base, "offboard-user", name="mokafor")
    entry = yaml.safe_load(changes.files["user.yaml"])["MOKAFOR"]
    assert entry["disabled"] is True and "business_roles" not in entry
    assert entry["rsa_public_key"]  # the rest of the entry stays
    assert "not a user" in errors(base, "offboard-user", name="nobody_here")["name"]


def test_new_business_role_composes_access_from_the_config(base):
    changes = run(base, "new-business-role", name="pricing_analyst", schema_read="ANALYTICS.MARTS, RAW.*",
                  schema_write="DEV_SANDBOX.SCRATCH", warehouse_usage="ANALYST_WH", technical_roles=["STRIPE_READ"])
    entry = yaml.safe_load(changes.files["business_role.yaml"])["PRICING_ANALYST"]
    assert entry == {"schema_read": ["ANALYTICS.MARTS", "RAW.*"], "schema_write": ["DEV_SANDBOX.SCRATCH"],
                     "warehouse_usage": ["ANALYST_WH"], "technical_roles": ["STRIPE_READ"]}
    errs = errors(base, "new-business-role", name="x", schema_read="ANALYTICS.NOPE", schema_owner="nodb.*",
                  warehouse_usage="NO_WH", technical_roles="NO_ROLE")
    assert set(errs) == {"schema_read", "schema_owner", "warehouse_usage", "technical_roles"}
    assert "already exists" in errors(base, "new-business-role", name="analyst", schema_read="RAW.*")["name"]


def test_change_business_role_touches_only_the_changed_lines(base):
    changes = run(base, "change-business-role", name="finance_analyst",
                  schema_read=["ANALYTICS.MARTS", "ANALYTICS.FINANCE", "ANALYTICS.MARKETING"])
    assert lines(base, changes, "business_role.yaml") == ([], ["    - ANALYTICS.MARKETING"])
    current = RECIPES["change-business-role"].current(base, "FINANCE_ANALYST")
    assert current["schema_read"] == ["ANALYTICS.MARTS", "ANALYTICS.FINANCE"]
    assert "nothing to change" in errors(base, "change-business-role", **{**current, "name": "FINANCE_ANALYST"})["name"]


def test_new_database_creates_params_files_roles_and_a_dedicated_warehouse(base):
    changes = run(base, "new-database", name="proj_pricing", schemas="RAW, MODELS", retention_time="3",
                  is_transient=True, business_roles="READ,WRITE,OWNER", size="Small", credit_quota="40")
    assert set(changes.files) == {"PROJ_PRICING/params.yaml", "PROJ_PRICING/RAW/params.yaml", "PROJ_PRICING/MODELS/params.yaml",
                                  "business_role.yaml", "warehouse.yaml", "resource_monitor.yaml"}
    params = yaml.safe_load(changes.files["PROJ_PRICING/params.yaml"])
    assert params == {"retention_time": 3, "is_transient": True}
    roles = yaml.safe_load(changes.files["business_role.yaml"])
    assert roles["PROJ_PRICING_WRITE"]["schema_write"] == ["PROJ_PRICING.*"]
    assert roles["PROJ_PRICING_READ"]["warehouse_usage"] == ["PROJ_PRICING_WH"]
    assert "&id" not in changes.files["business_role.yaml"]  # no YAML anchors
    wh = yaml.safe_load(changes.files["warehouse.yaml"])["PROJ_PRICING_WH"]
    assert wh["size"] == "SMALL" and wh["resource_monitor"] == "PROJ_PRICING_MONITOR"
    assert yaml.safe_load(changes.files["resource_monitor.yaml"])["PROJ_PRICING_MONITOR"]["credit_quota"] == 40
    assert "already exists" in errors(base, "new-database", name="raw", schemas="X")["name"]
    errs = errors(base, "new-database", name="p2", schemas="PUBLIC", retention_time="365", credit_quota="5", business_roles="ADMIN")
    assert set(errs) == {"schemas", "retention_time", "credit_quota", "business_roles"}


def test_new_warehouse_and_resize_show_credits(base):
    changes = run(base, "new-warehouse", name="mkt_wh", size="X-Small", auto_suspend="60", resource_monitor="ANALYST_MONITOR")
    assert yaml.safe_load(changes.files["warehouse.yaml"])["MKT_WH"] == {"size": "XSMALL", "auto_suspend": 60, "resource_monitor": "ANALYST_MONITOR"}
    assert "1 credit(s)/hour" in changes.summary
    resize = run(base, "change-warehouse", name="analyst_wh", size="LARGE")
    assert lines(base, resize, "warehouse.yaml") == (["  size: SMALL"], ["  size: LARGE"])
    assert "Small (2 credit(s)/hour) -> Large (8 credit(s)/hour): +6 credit(s) per running hour" in resize.summary
    down = run(base, "change-warehouse", name="bi_wh", size="XSMALL", auto_suspend=600)
    assert "-1 credit(s) per running hour per cluster (up to -2 with 2 clusters)" in down.summary
    assert "nothing to change" in errors(base, "change-warehouse", name="analyst_wh", size="SMALL", auto_suspend=120)["size"]
    assert "between 60" in errors(base, "new-warehouse", name="w", size="SMALL", auto_suspend="0")["auto_suspend"]
    assert "must be one of" in errors(base, "new-warehouse", name="w", size="HUGE")["size"]


def test_rotate_then_promote_a_key(tmp_path, base, public_pem, private_pem):
    import shutil

    changes = run(base, "rotate-key", name="svc_dbt", rsa_public_key_2=public_pem)
    removed, added = lines(base, changes, "user.yaml")
    assert removed == [] and len(added) == 1 and added[0].startswith("  rsa_public_key_2: MII")
    assert "PRIVATE" in errors(base, "rotate-key", name="svc_dbt", rsa_public_key_2=private_pem)["rsa_public_key_2"]
    assert "no rsa_public_key_2" in errors(base, "promote-key", name="svc_dbt")["name"]
    copy = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, copy)
    (copy / "user.yaml").write_text(changes.files["user.yaml"])
    mid = Snapshot(copy, None, load_config(copy))
    assert "already a key" in errors(mid, "rotate-key", name="svc_dbt", rsa_public_key_2=public_pem)["rsa_public_key_2"]
    promoted = RECIPES["promote-key"].build(mid, RECIPES["promote-key"].parse({"name": "svc_dbt", "justification": WHY}, mid))
    entry = yaml.safe_load(promoted.files["user.yaml"])["SVC_DBT"]
    assert "rsa_public_key_2" not in entry and entry["rsa_public_key"] == added[0].split(": ", 1)[1]


@pytest.mark.parametrize("recipe", [*RECIPES.values(), *SYSTEM_RECIPES.values()], ids=lambda r: r.name)
def test_every_recipe_refuses_a_key_it_does_not_know(base, recipe):
    """A request's keys are its recipe's fields only: a key no field has is refused by name (never silently
    dropped: the requester would believe it asked for something the change does not do), whatever else is wrong."""
    with pytest.raises(FieldErrors) as caught:
        recipe.parse({"justification": WHY, "owner_override": "ACCOUNTADMIN"}, base)
    assert caught.value.by_field().get("owner_override") == "is not a field of this request.", recipe.name
