"""`snowtower hygiene` on broken and hostile configs: a clear message on stderr, exit 2, bounded work."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.snowddl.snowddl_patches import MAX_EXPANDED_VALUES, expanded_values
from core.snowddl.config_loader import load_config
from portal.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"
# Nine lines whose aliases expand to 9**8 (43 million) strings: "billion laughs".
BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
               for p, a in zip([None, "a", "b", "c", "d", "e", "f", "g"], "abcdefgh", strict=True))


@pytest.fixture
def config(tmp_path):
    dest = tmp_path / "snowddl"
    shutil.copytree(EXAMPLE, dest)
    return dest


def test_an_alias_bomb_is_refused_before_it_is_walked(config, capsys):
    assert expanded_values(BOMB) > 40_000_000 > MAX_EXPANDED_VALUES
    (config / "business_role.yaml").write_text(BOMB + "BOMB:\n  database_read: *h\n")
    assert main(["hygiene", str(config), "--format", "json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing a script could read as a clean result
    assert err.splitlines()[0] == ("snowtower hygiene: business_role.yaml:1: its anchors and aliases expand to more "
                                   "than 1,000,000 values: not read")
    assert f"{config} is not a valid SnowDDL config: " in err


def test_ordinary_anchors_still_read():
    text = "base: &base {type: PERSON}\nJDOE:\n  <<: *base\n  comment: x\n"
    assert expanded_values(text) == 13  # root, base {type: PERSON}, JDOE {<<: (3 again), comment: x}


def test_a_config_with_a_yaml_syntax_error_is_not_called_clean(config, capsys):
    (config / "warehouse.yaml").write_text("BI_WH: [unclosed\n  : :\n")
    assert main(["hygiene", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "clean" not in out
    first = err.splitlines()[0]
    assert first.startswith("snowtower hygiene: warehouse.yaml:") and "knock-on" not in first
    assert "is not a valid SnowDDL config" in err and "fix them first (snowtower validate" in err


def test_the_valid_example_still_reports_its_findings(capsys):
    assert main(["hygiene", str(EXAMPLE)]) == 1
    assert load_config(EXAMPLE).validation.valid
