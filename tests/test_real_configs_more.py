"""More inputs of issue 9's kinds, tried after it was merged: each with the value a user would see."""
from __future__ import annotations

import datetime as dt

from tests.test_real_configs import run, snap, statements

WH = "wh:\n  size: XSMALL\n"


def test_a_name_in_a_file_snowddl_cannot_read_is_refused_with_the_files_error(tmp_path, public_pem):
    # No Fernet keys configured (the portal usually has none): SnowDDL cannot read user.yaml at all.
    users = "ana:\n  type: PERSON\n  password: !decrypt gAAAAABnot-a-token\n  business_roles: [bi]\n"
    base = snap(tmp_path / "c", {"warehouse.yaml": WH, "business_role.yaml": "bi:\n  warehouse_usage: [wh]\n",
                                 "user.yaml": users})
    want = ("ANA is in user.yaml, but SnowDDL cannot read it (user.yaml:1: Cannot decrypt value due to "
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
    assert message.startswith("BI is in business_role.yaml, but SnowDDL cannot read it (business_role.yaml:")
    assert message.endswith("; fix the file first.")
    change = run("change-business-role", {"name": "bi", "comment": "x"}, base).field_errors["name"]
    assert change.startswith("BI is in business_role.yaml, but SnowDDL cannot read it")
    # An entry that fails on its own (an empty user) is refused with its own error.
    empty = snap(tmp_path / "d", {"warehouse.yaml": WH, "user.yaml": "ana:\nbob:\n  email: b@example.com\n"})
    assert run("offboard-user", {"name": "ana"}, empty).field_errors == {
        "name": "ANA is in user.yaml, but SnowDDL cannot read it (user.yaml:1: 'NoneType' object has no attribute 'get'); "
                "fix the file first."}


MERGED = "defaults: &d\n  business_roles: [bi, ci]\n\nana:\n  <<: *d\n  email: a@example.com\n\nbo:\n  <<: *d\n"
ROLES = {"warehouse.yaml": WH, "business_role.yaml": "bi:\n  warehouse_usage: [wh]\nci:\n  warehouse_usage: [wh]\n"}


def test_roles_a_user_gets_through_a_merge_key_are_overridden_or_the_request_is_refused(tmp_path):
    base = snap(tmp_path / "c", dict(ROLES, **{"user.yaml": MERGED}))
    # Revoking some: ana gets her own list (the shared defaults and bo stay as they are).
    revoke = run("revoke-role", {"name": "ana", "business_roles": ["bi"]}, base)
    assert revoke.ok, revoke.field_errors
    assert revoke.changes.files["user.yaml"] == MERGED.replace("  email: a@example.com\n",
                                                               "  email: a@example.com\n  business_roles:\n    - ci\n")
    assert [s["sql"] for s in revoke.plan["statements"]][:1] == ['REVOKE ROLE "BI__B_ROLE" FROM ROLE "ANA__U_ROLE"']
    # Revoking all of them, or offboarding, would leave the merged roles in force (SnowDDL refuses an
    # empty list): refused with a message, never a change that silently keeps the roles.
    want = ("user.yaml: ANA gets business_roles through a YAML merge key (<<) that other entries share: it cannot "
            "be removed from this entry alone; edit the file by hand")
    assert run("revoke-role", {"name": "ana", "business_roles": ["bi", "ci"]}, base).field_errors == {"business_roles": want}
    assert run("offboard-user", {"name": "ana"}, base).field_errors == {"name": want}


def test_a_role_granted_over_merged_roles_keeps_them(tmp_path):
    roles = dict(ROLES, **{"business_role.yaml": ROLES["business_role.yaml"] + "di:\n  warehouse_usage: [wh]\n"})
    base = snap(tmp_path / "c", dict(roles, **{"user.yaml": MERGED}))
    grant = run("grant-role", {"name": "bo", "business_roles": ["di"]}, base)
    assert grant.ok, grant.field_errors
    assert grant.changes.files["user.yaml"] == MERGED + "  business_roles:\n    - bi\n    - ci\n    - di\n"
    assert [s["sql"] for s in grant.plan["statements"]] == ['GRANT ROLE "DI__B_ROLE" TO ROLE "BO__U_ROLE"']


def test_a_business_role_key_from_a_merge_key_is_not_removed_silently(tmp_path):
    base = snap(tmp_path / "c", {"warehouse.yaml": WH + "wh2:\n  size: XSMALL\n", "user.yaml": "ana:\n  business_roles: [bi]\n",
                                 "business_role.yaml": "base: &b\n  warehouse_usage: [wh]\nbi:\n  <<: *b\n  comment: x\n"})
    result = run("change-business-role", {"name": "bi", "warehouse_usage": []}, base)
    assert result.field_errors == {"warehouse_usage": "business_role.yaml: BI gets warehouse_usage through a YAML merge key "
                                   "(<<) that other entries share: it cannot be removed from this entry alone; edit the file by hand"}


def test_typed_text_is_never_read_back_as_a_placeholder(tmp_path, public_pem):
    # SnowDDL replaces ${{ name }} in any config value: a comment "${{ db_password }}" would deploy (and
    # show in the preview's plan) the placeholder's value. Every free-text field refuses it.
    base = snap(tmp_path / "c", {"warehouse.yaml": WH, "business_role.yaml": "bi:\n  warehouse_usage: [wh]\n",
                                 "user.yaml": "ana:\n  email: a@example.com\n", "placeholder.yaml": "db_password: hunter2\n"})
    ph = "${{ db_password }}"
    want = "must not contain '${{': SnowDDL would read it as a placeholder of the configuration."
    person = {"name": "bo", "first_name": "Bo", "last_name": "O", "email": "b@example.com", "rsa_public_key": public_pem,
              "business_roles": ["bi"]}
    cases = [
        ("new-warehouse", {"name": "x_wh", "size": "XSMALL"}, "comment"),
        ("new-database", {"name": "db9", "schemas": "raw"}, "comment"),
        ("new-business-role", {"name": "r9", "warehouse_usage": ["wh"]}, "comment"),
        ("change-business-role", {"name": "bi"}, "comment"),
        ("new-user", person, "first_name"), ("new-user", person, "last_name"), ("new-user", person, "comment"),
        ("new-service-user", {"name": "svc9", "rsa_public_key": public_pem, "business_roles": ["bi"]}, "comment"),
    ]
    for recipe, raw, field in cases:
        result = run(recipe, dict(raw, **{field: f"team {ph}"}), base)
        assert result.field_errors == {field: want}, (recipe, field)
    result = run("new-user", dict(person, email="${{db_password}}@example.com"), base)
    assert result.field_errors == {"email": want}
    # A literal "$" or "{{" without the opening sequence stays ordinary text.
    ok = run("new-warehouse", {"name": "x_wh", "size": "XSMALL", "comment": "costs $5 {{per}} day"}, base)
    assert ok.ok and "  comment: costs $5 {{per}} day\n" in ok.changes.files["warehouse.yaml"]


def test_validation_messages_never_carry_the_servers_paths(tmp_path):
    from core.snowddl.config_loader import load_config
    from tests.test_real_configs import write

    root = write(tmp_path / "c", {"db1/params.yaml": "", "db1/s1/params.yaml": "",
                                  "db1/s1/view/v.yaml": "text: !include missing.sql\n",
                                  "db1/s1/function/f(number).yaml": "language: SQL\nreturns: NUMBER\nbody: select 1\n"})
    errors = {e.file: e.message for e in load_config(root).validation.errors}
    assert errors == {
        "db1/s1/view/v.yaml": "File [db1/s1/view/missing.sql] mentioned in !include YAML tag does not exist",
        "db1/s1/function/f(number).yaml": "File [db1/s1/function/f(number).yaml] name does not match list of arguments, "
                                          "expected [f().yaml]",
    }
    write(tmp_path / "d", {"user.yml": "a:\n  email: a@example.com\n", "user.yaml": "b:\n  email: b@example.com\n"})
    (error,) = load_config(tmp_path / "d").validation.errors
    assert error.message.startswith("SnowDDL cannot read this folder: Detected config files with similar names: [user.y")
    assert "[user.yml]" in error.message and "[user.yaml]" in error.message and str(tmp_path) not in error.message


BI = {"business_role.yaml": "bi:\n  warehouse_usage: [wh]\n", "user.yaml": "ana:\n  email: a@example.com\n"}


def test_a_new_entry_goes_before_a_document_end_marker(tmp_path, public_pem):
    users = "---\n\"ana\":  # analyst\n  email: a@example.com\n  business_roles: [bi]\n...\n# end of people\n"
    base = snap(tmp_path / "c", dict(BI, **{"warehouse.yaml": WH, "user.yaml": users}))
    result = run("new-user", {"name": "cy", "first_name": "C", "last_name": "Y", "email": "c@example.com",
                              "rsa_public_key": public_pem, "business_roles": ["bi"]}, base)
    assert result.ok, (result.field_errors, result.validation and result.validation.errors)
    text = result.changes.files["user.yaml"]
    assert text.startswith(users[:-len("...\n# end of people\n")]) and text.endswith("  business_roles:\n    - bi\n...\n# end of people\n")
    assert any(s.startswith('CREATE USER "CY"') for s in statements(result))


def test_a_new_entry_joins_a_file_written_as_one_flow_mapping(tmp_path):
    for name, warehouses, want in [
        ("one-line", "{wh: {size: XSMALL}, wh2: {size: SMALL}}  # all\n",
         "{wh: {size: XSMALL}, wh2: {size: SMALL}, wh3: {size: XSMALL, auto_suspend: 60}}  # all\n"),
        ("multi-line", "{\n  wh: {size: XSMALL},  # main\n  wh2: {size: SMALL}\n}\n",
         "{\n  wh: {size: XSMALL},  # main\n  wh2: {size: SMALL},\n  wh3: {size: XSMALL, auto_suspend: 60}\n}\n"),
        ("trailing-comma-crlf", "{\r\n  wh: {size: XSMALL},\r\n  wh2: {size: SMALL},\r\n}\r\n",
         "{\r\n  wh: {size: XSMALL},\r\n  wh2: {size: SMALL},\r\n  wh3: {size: XSMALL, auto_suspend: 60},\r\n}\r\n"),
    ]:
        base = snap(tmp_path / name, dict(BI, **{"warehouse.yaml": warehouses.encode()}))
        result = run("new-warehouse", {"name": "wh3", "size": "XSMALL", "auto_suspend": 60}, base)
        assert result.ok, (name, result.field_errors, result.validation and result.validation.errors)
        assert result.changes.files["warehouse.yaml"] == want, name
        assert statements(result)[0].startswith('CREATE WAREHOUSE "WH3"'), name


def test_summaries_are_plain_text_without_markdown_markers(tmp_path):
    # Summaries are shown and written escaped (plain text): "**" would appear as literal asterisks.
    from core.plaintext import md_escape

    base = snap(tmp_path / "c", dict(BI, **{"warehouse.yaml": WH}))
    wh = run("new-warehouse", {"name": "x_wh", "size": "XSMALL", "auto_suspend": 60}, base).changes.summary
    assert wh == "Adds warehouse X_WH: X-Small (1 credit(s)/hour), auto-suspend after 60 s, no resource monitor."
    db = run("new-database", {"name": "db9", "schemas": "raw", "size": "XSMALL"}, base).changes.summary
    assert db.endswith(", no resource monitor (no monthly credit quota given).")
    until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    grant = run("grant-role", {"name": "ana", "business_roles": ["bi"], "until": until}, base).changes.summary
    assert grant == (f"Adds business role(s) BI to ANA, time-bound until {until} (after that day SnowTower opens a "
                     "request to revoke it).")
    assert not any("\\*" in md_escape(s, starts_line=True) for s in (wh, db, grant))


def test_a_new_entry_after_a_kept_block_scalar_leaves_its_value_alone(tmp_path):
    # `|+` keeps trailing blank lines as part of the text: a blank separator line would change ci's comment.
    roles = "bi:\n  warehouse_usage: [wh]\n  comment: |+\n    keep me\n\nci:\n  warehouse_usage: [wh]\n  comment: |+\n    last one\n"
    base = snap(tmp_path / "c", dict(BI, **{"warehouse.yaml": WH, "business_role.yaml": roles}))
    result = run("new-business-role", {"name": "di", "warehouse_usage": ["wh"]}, base)
    assert result.ok, result.field_errors
    assert result.changes.files["business_role.yaml"] == roles + "di:\n  warehouse_usage:\n    - wh\n"
    assert statements(result) == ['CREATE ROLE "DI__B_ROLE"', 'GRANT ROLE "DI__B_ROLE" TO ROLE "SNOWDDL_ADMIN"',
                                  'GRANT ROLE "WH__USAGE__W_ROLE" TO ROLE "DI__B_ROLE"']


def test_a_key_added_to_an_entry_ending_in_a_kept_block_scalar_leaves_its_value_alone(tmp_path):
    users = "ana:\n  email: a@example.com\n  comment: |+\n    note\n\nbo:\n  email: b@example.com\n"
    base = snap(tmp_path / "c", dict(BI, **{"warehouse.yaml": WH, "user.yaml": users}))
    result = run("offboard-user", {"name": "ana"}, base)
    assert result.ok, result.field_errors
    assert result.changes.files["user.yaml"] == users.replace("  comment: |+", "  disabled: true\n  comment: |+")
    assert statements(result) == ['ALTER USER "ANA" SET\nDISABLED = TRUE']  # the comment stays "note\n\n"


def test_a_role_list_shared_through_an_alias_is_overridden_or_refused_by_name(tmp_path):
    users = "ana:\n  email: a@example.com\n  business_roles: &roles [bi, ci]\nbo:\n  email: b@example.com\n  business_roles: *roles\n"
    roles = "bi:\n  warehouse_usage: [wh]\nci:\n  warehouse_usage: [wh]\ndi:\n  warehouse_usage: [wh]\n"
    base = snap(tmp_path / "c", {"warehouse.yaml": WH, "business_role.yaml": roles, "user.yaml": users})
    grant = run("grant-role", {"name": "bo", "business_roles": ["di"]}, base)  # bo gets a list of its own
    assert grant.changes.files["user.yaml"] == users.replace("  business_roles: *roles\n",
                                                             "  business_roles:\n    - bi\n    - ci\n    - di\n")
    assert statements(grant) == ['GRANT ROLE "DI__B_ROLE" TO ROLE "BO__U_ROLE"']
    revoke = run("revoke-role", {"name": "bo", "business_roles": ["bi"]}, base)
    assert revoke.changes.files["user.yaml"] == users.replace("  business_roles: *roles\n", "  business_roles:\n    - ci\n")
    assert statements(revoke)[0] == 'REVOKE ROLE "BI__B_ROLE" FROM ROLE "BO__U_ROLE"'
    # The entry that defines the anchor cannot change without changing bo: refused, saying why.
    assert run("grant-role", {"name": "ana", "business_roles": ["di"]}, base).field_errors == {
        "business_roles": "user.yaml: ANA defines an anchor that another entry uses (an alias): edit that entry too, by hand"}
