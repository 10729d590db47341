"""Loading and validating configs through SnowDDL's own parsers and validators."""
import shutil
from pathlib import Path

import pytest

from core.snowddl.config_loader import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"


@pytest.fixture
def config(tmp_path) -> Path:
    dest = tmp_path / "snowddl"
    shutil.copytree(EXAMPLE, dest)
    return dest


def test_example_config_is_valid_and_as_described():
    loaded = load_config(EXAMPLE)
    assert loaded.validation.to_dict() == {"valid": True, "errors": [], "warnings": []}
    assert len(loaded.users) >= 15
    assert len(loaded.business_roles) >= 8
    assert len(loaded.technical_roles) >= 10
    assert len(loaded.warehouses) >= 5
    assert len(loaded.databases) >= 4
    assert "ANALYST" in loaded.business_roles and "ANALYST_WH" in loaded.warehouses


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_yaml_syntax_error_has_line_and_column(config):
    (config / "warehouse.yaml").write_text("GOOD_WH:\n  size: XSMALL\nBAD_WH: [\n  size: XSMALL\n")
    errors = load_config(config).validation.errors
    syntax = [e for e in errors if e.kind == "yaml"]
    assert len(syntax) == 1
    assert syntax[0].file == "warehouse.yaml"
    assert syntax[0].line in (3, 4, 5)
    assert "column" in syntax[0].message


def test_schema_error_names_file_line_and_object(config):
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nBROKEN_USER:\n  type: PERSON\n  default_role: ANALYST\n  business_roles:\n    - ANALYST\n")
    errors = load_config(config).validation.errors
    assert len(errors) >= 1
    error = errors[0]
    assert (error.file, error.object, error.kind) == ("user.yaml", "BROKEN_USER", "schema")
    assert error.line == _line_of(users, "default_role: ANALYST")  # the offending key's own line
    assert "default_role" in error.message


def test_reference_error_from_snowddl_validators(config):
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nLOST_USER:\n  type: PERSON\n  business_roles:\n    - NO_SUCH_ROLE\n")
    errors = load_config(config).validation.errors
    assert [(e.file, e.object, e.kind) for e in errors] == [("user.yaml", "LOST_USER", "reference")]
    assert errors[0].line == _line_of(users, "LOST_USER:")
    assert "NO_SUCH_ROLE" in errors[0].message


def test_a_folder_snowddl_cannot_read_is_a_clear_error_and_the_rest_is_still_validated(config):
    (config / ".backups").mkdir()
    (config / ".backups" / "user.yaml").write_text("X: {}\n")
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nLOST_USER:\n  business_roles:\n    - NO_SUCH_ROLE\n")
    errors = load_config(config).validation.errors
    assert [(e.kind, e.file) for e in errors] == [("structure", ".backups/"), ("reference", "user.yaml")]
    assert ".backups" in errors[0].message and "Traceback" not in errors[0].message
    assert errors[1].object == "LOST_USER" and errors[1].line == _line_of(users, "LOST_USER:")


def test_files_snowddl_ignores_are_warnings(config):
    (config / "password_policy.yaml").write_text("STRONG:\n  min_length: 14\n")
    validation = load_config(config).validation
    assert validation.valid
    assert [(w.file, w.kind) for w in validation.warnings] == [("password_policy.yaml", "unused")]


def test_missing_folder_is_an_error(tmp_path):
    validation = load_config(tmp_path / "nope").validation
    assert not validation.valid and validation.errors[0].kind == "structure"


def test_fast_path_gives_snowddl_s_own_verdict(config):
    """Same verdict as SnowDDL's own code path, and every error SnowDDL reports is among ours
    (we report more: all schema errors of a file, not the first one)."""
    from core.snowddl import snowddl_patches

    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nX1:\n  type: PERSON\n  nope: 1\n  business_roles: [ANALYST]\n"
                     "\nX2:\n  business_roles: [MISSING]\n")
    (config / "warehouse.yaml").write_text((config / "warehouse.yaml").read_text() + "\nW9:\n  size: 12\n")
    (config / "notes.txt").write_text("comment: !include user.yaml\n")
    fast_result = load_config(config).validation.to_dict()
    snowddl_patches.uninstall()
    try:
        slow_result = load_config(config).validation.to_dict()
    finally:
        snowddl_patches.install()
    assert fast_result["valid"] is slow_result["valid"] is False
    ours = {(e["file"], e["line"], e["message"]) for e in fast_result["errors"]}
    for e in slow_result["errors"]:
        if e["kind"] in ("schema", "yaml", "parse"):
            assert (e["file"], e["line"], e["message"]) in ours
    # SnowDDL dropped all of user.yaml and warehouse.yaml for one bad entry each: its reference errors
    # about their good entries are knock-on errors we do not produce.
    assert len(slow_result["errors"]) > len(fast_result["errors"])


def test_every_schema_error_of_a_file_is_reported_each_on_its_own_line(config):
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nBAD_ONE:\n  type: PERSON\n  default_role: X\n  business_roles: [ANALYST]\n"
                     "\nBAD_TWO:\n  disabled: maybe\n  business_roles: [ANALYST]\n"
                     "\nGOOD_BUT_LOST:\n  business_roles: [NOBODY]\n")
    loaded = load_config(config)
    errors = loaded.validation.errors
    by_object = {e.object: e for e in errors}
    assert set(by_object) == {"BAD_ONE", "BAD_TWO", "GOOD_BUT_LOST"}
    assert by_object["BAD_ONE"].kind == by_object["BAD_TWO"].kind == "schema"
    assert by_object["BAD_ONE"].line == _line_of(users, "default_role: X")
    assert by_object["BAD_TWO"].line == _line_of(users, "disabled: maybe")
    assert "maybe" in by_object["BAD_TWO"].message
    # one bad entry does not hide the other entries: the good ones became blueprints and were checked
    assert by_object["GOOD_BUT_LOST"].kind == "reference" and "NOBODY" in by_object["GOOD_BUT_LOST"].message
    assert "PRAMAN" in loaded.users and "BAD_ONE" not in loaded.users


def test_reference_errors_about_a_dropped_entry_are_knock_on(config):
    roles = config / "business_role.yaml"
    roles.write_text(roles.read_text() + "\nBROKEN_ROLE:\n  schema_read: [ANALYTICS.MARTS]\n  bogus_key: 1\n")
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nNEEDS_IT:\n  business_roles: [BROKEN_ROLE]\n"
                     "\nREALLY_LOST:\n  business_roles: [NOT_ANYWHERE]\n")
    errors = {e.object: e for e in load_config(config).validation.errors}
    assert errors["BROKEN_ROLE"].kind == "schema" and not errors["BROKEN_ROLE"].knock_on
    assert errors["NEEDS_IT"].kind == "reference" and errors["NEEDS_IT"].knock_on
    assert errors["REALLY_LOST"].kind == "reference" and not errors["REALLY_LOST"].knock_on


def test_reference_errors_are_reported_alongside_a_yaml_syntax_error(config):
    (config / "network_policy.yaml").write_text("LOADER_ALLOWLIST: [\n")
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nLOST_USER:\n  business_roles:\n    - NO_SUCH_ROLE\n")
    errors = load_config(config).validation.errors
    kinds = [(e.kind, e.file) for e in errors]
    assert ("yaml", "network_policy.yaml") in kinds and ("reference", "user.yaml") in kinds


def test_a_bad_params_file_read_by_several_parsers_is_one_error(config):
    (config / "RAW" / "params.yaml").write_text("comment: Raw\nowner: SOMEONE\n")
    errors = load_config(config).validation.errors
    schema = [e for e in errors if e.kind == "schema"]
    assert len(schema) == 1 and schema[0].file == "RAW/params.yaml" and schema[0].line == 2
    assert len({(e.file, e.line, e.message) for e in errors}) == len(errors)


def test_unreadable_folder_is_a_warning(config):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every folder: permissions cannot be tested")
    locked = config / "LOCKED"
    locked.mkdir()
    locked.chmod(0)
    try:
        validation = load_config(config).validation
    finally:
        locked.chmod(0o755)
    assert [(w.file, w.kind) for w in validation.warnings] == [("LOCKED/", "unreadable")]


def test_placeholders_file_and_values(config):
    (config / "placeholder.yaml").write_text("wh_size: SMALL\nteam: Analytics\n")
    warehouses = config / "warehouse.yaml"
    warehouses.write_text(warehouses.read_text() + "\nPH_WH:\n  size: ${{ wh_size }}\n  comment: For ${{ team }} team\n")
    loaded = load_config(config)
    assert loaded.validation.valid and "PH_WH" in loaded.warehouses
    bp = loaded.snowddl.get_blueprints_by_type(__import__("snowddl.blueprint", fromlist=["x"]).WarehouseBlueprint)["PH_WH"]
    assert (bp.size, bp.comment) == ("SMALL", "For Analytics team")
    overridden = load_config(config, placeholder_values={"wh_size": "LARGE"})
    bp = overridden.snowddl.get_blueprints_by_type(__import__("snowddl.blueprint", fromlist=["x"]).WarehouseBlueprint)["PH_WH"]
    assert bp.size == "LARGE"
    warehouses.write_text(warehouses.read_text() + "\nPH2_WH:\n  size: ${{ nobody_defined_this }}\n")
    errors = [e for e in load_config(config).validation.errors if not e.knock_on]
    assert [e.file for e in errors] == ["warehouse.yaml"] and "NOBODY_DEFINED_THIS" in errors[0].message


def test_env_prefix_names_and_errors(config):
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nLOST_USER:\n  business_roles:\n    - NO_SUCH_ROLE\n")
    loaded = load_config(config, env_prefix="dev")
    assert "ANALYST" in loaded.business_roles and "PRAMAN" in loaded.users  # names without the prefix
    [error] = loaded.validation.errors
    assert (error.file, error.object, error.line) == ("user.yaml", "LOST_USER", _line_of(users, "LOST_USER:"))
    assert "DEV__NO_SUCH_ROLE" in error.message


def test_include_tag_works_with_the_fast_loader(config):
    (config / "ANALYTICS" / "about.txt").write_text("Curated models")
    params = config / "ANALYTICS" / "params.yaml"
    text = params.read_text()
    lines = [line for line in text.splitlines() if not line.startswith("comment:")]
    params.write_text("\n".join(lines) + "\ncomment: !include about.txt\n")
    assert load_config(config).validation.valid


def test_validate_with_changes_lays_files_over_the_base_without_writing(config):
    from core.snowddl.commit_snapshot import Snapshot, validate_with_changes

    base = Snapshot(config, None, load_config(config))
    before = sorted(p.relative_to(config).as_posix() for p in config.rglob("*"))
    head = validate_with_changes(base, {"RAW/NETSUITE/params.yaml": "comment: NetSuite\n"})
    assert head.validation.valid and "RAW.NETSUITE" in head.schemas
    # removing a schema's only file removes the schema (git keeps no empty folder): its users now fail
    head = validate_with_changes(base, {"DEV_SANDBOX/SCRATCH/params.yaml": None})
    assert "DEV_SANDBOX.SCRATCH" not in head.schemas
    assert head.validation.errors and all("DEV_SANDBOX.SCRATCH" in e.message for e in head.validation.errors)
    bad = validate_with_changes(base, {"RAW/new-schema/params.yaml": "comment: x\n",
                                       "user.yaml": base.text("user.yaml") + "\nGHOST:\n  business_roles: [NOBODY]\n"})
    assert {(e.kind, e.file) for e in bad.validation.errors} == {("structure", "RAW/new-schema/"), ("reference", "user.yaml")}
    assert sorted(p.relative_to(config).as_posix() for p in config.rglob("*")) == before  # nothing written
