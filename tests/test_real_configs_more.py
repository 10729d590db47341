"""More inputs of issue 9's kinds, tried after it was merged: each with the value a user would see."""
from __future__ import annotations

from tests.test_real_configs import run, snap

WH = "wh:\n  size: XSMALL\n"


def test_a_name_in_a_file_snowddl_cannot_read_is_refused_with_the_files_error(tmp_path, public_pem):
    # No Fernet keys configured (the portal usually has none): SnowDDL cannot read user.yaml at all.
    users = "ana:\n  type: PERSON\n  password: !decrypt gAAAAABnot-a-token\n  business_roles: [bi]\n"
    base = snap(tmp_path / "c", {"warehouse.yaml": WH, "business_role.yaml": "bi:\n  warehouse_usage: [wh]\n",
                                 "user.yaml": users})
    want = ("ANA is in user.yaml, but SnowDDL cannot read that file (user.yaml:1: Cannot decrypt value due to "
            "missing Fernet encryption keys); fix the file first.")
    for recipe, raw in [("offboard-user", {"name": "ana"}), ("revoke-role", {"name": "ana", "business_roles": ["bi"]}),
                        ("grant-role", {"name": "ana", "business_roles": ["bi"]}), ("promote-key", {"name": "ana"}),
                        ("rotate-key", {"name": "ana", "rsa_public_key_2": public_pem})]:
        result = run(recipe, raw, base)
        assert result.field_errors.get("name") == want, recipe
        assert result.changes is None, recipe
    # A name the file does not define keeps the plain message.
    assert run("offboard-user", {"name": "zed"}, base).field_errors == {"name": "ZED is not a user of this configuration."}


def test_a_role_in_a_business_role_file_that_does_not_parse_is_refused_with_its_error(tmp_path):
    base = snap(tmp_path / "c", {"warehouse.yaml": WH, "user.yaml": "ana:\n  email: a@example.com\n",
                                 "business_role.yaml": "bi:\n  warehouse_usage: [wh\n"})
    message = run("grant-role", {"name": "ana", "business_roles": ["bi"]}, base).field_errors["business_roles"]
    assert message.startswith("BI is in business_role.yaml, but SnowDDL cannot read that file (business_role.yaml:")
    assert message.endswith("; fix the file first.")
    change = run("change-business-role", {"name": "bi", "comment": "x"}, base).field_errors["name"]
    assert change.startswith("BI is in business_role.yaml, but SnowDDL cannot read that file")
