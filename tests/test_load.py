"""Loading and validating configs through SnowDDL's own parsers and validators."""
import shutil
from pathlib import Path

import pytest

from core.snowddl.load import load_config

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
    assert error.line == _line_of(users, "BROKEN_USER:")
    assert "default_role" in error.message


def test_reference_error_from_snowddl_validators(config):
    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nLOST_USER:\n  type: PERSON\n  business_roles:\n    - NO_SUCH_ROLE\n")
    errors = load_config(config).validation.errors
    assert [(e.file, e.object, e.kind) for e in errors] == [("user.yaml", "LOST_USER", "reference")]
    assert errors[0].line == _line_of(users, "LOST_USER:")
    assert "NO_SUCH_ROLE" in errors[0].message


def test_a_folder_snowddl_cannot_read_is_a_clear_error_not_a_traceback(config):
    (config / ".backups").mkdir()
    (config / ".backups" / "user.yaml").write_text("X: {}\n")
    errors = load_config(config).validation.errors
    assert [e.kind for e in errors] == ["structure"]
    assert ".BACKUPS" in errors[0].message and "Traceback" not in errors[0].message


def test_files_snowddl_ignores_are_warnings(config):
    (config / "password_policy.yaml").write_text("STRONG:\n  min_length: 14\n")
    validation = load_config(config).validation
    assert validation.valid
    assert [(w.file, w.kind) for w in validation.warnings] == [("password_policy.yaml", "unused")]


def test_missing_folder_is_an_error(tmp_path):
    validation = load_config(tmp_path / "nope").validation
    assert not validation.valid and validation.errors[0].kind == "structure"


def test_fast_path_gives_snowddl_s_own_verdict(config):
    """The compiled-schema / libyaml path must report exactly what SnowDDL's own path reports."""
    from core.snowddl import fast

    users = config / "user.yaml"
    users.write_text(users.read_text() + "\nX1:\n  type: PERSON\n  nope: 1\n  business_roles: [ANALYST]\n"
                     "\nX2:\n  business_roles: [MISSING]\n")
    (config / "warehouse.yaml").write_text((config / "warehouse.yaml").read_text() + "\nW9:\n  size: 12\n")
    (config / "notes.txt").write_text("comment: !include user.yaml\n")
    fast_result = load_config(config).validation.to_dict()
    fast.uninstall()
    try:
        slow_result = load_config(config).validation.to_dict()
    finally:
        fast.install()
    assert fast_result == slow_result
    assert not fast_result["valid"]


def test_include_tag_works_with_the_fast_loader(config):
    (config / "ANALYTICS" / "about.txt").write_text("Curated models")
    params = config / "ANALYTICS" / "params.yaml"
    text = params.read_text()
    lines = [line for line in text.splitlines() if not line.startswith("comment:")]
    params.write_text("\n".join(lines) + "\ncomment: !include about.txt\n")
    assert load_config(config).validation.valid
