"""Every recipe from the command line: `snowtower request RECIPE --set KEY=VALUE` with SnowDDL's key names."""
import json

from tests.test_cli import EXAMPLE, run

WHY = "justification=Month-end close needs more power."


def test_resize_prints_the_credits_difference_and_writes_nothing(capsys):
    before = (EXAMPLE / "warehouse.yaml").read_text()
    code, out, _ = run(capsys, "request", "change-warehouse", "--config", str(EXAMPLE), "--set", "name=analyst_wh",
                       "--set", "size=Large", "--set", WHY)
    assert code == 0
    assert "-  size: SMALL" in out and "+  size: LARGE" in out
    assert "+6 credit(s) per running hour" in out
    assert (EXAMPLE / "warehouse.yaml").read_text() == before


def test_time_bound_grant_as_json(capsys):
    code, out, _ = run(capsys, "request", "grant-role", "--config", str(EXAMPLE), "--set", "name=MOKAFOR",
                       "--set", "business_roles=ANALYST,FINANCE_ANALYST", "--set", "until=2099-01-01", "--set", WHY,
                       "--format", "json")
    assert code == 1  # more than three years ahead
    assert "three years" in json.loads(out)["field_errors"]["until"]


def test_a_list_key_can_be_cleared_and_unknown_keys_are_usage_errors(capsys):
    code, out, _ = run(capsys, "request", "change-business-role", "--config", str(EXAMPLE), "--set", "name=DATA_ENGINEER",
                       "--set", "warehouse_monitor=BI_WH", "--set", WHY)
    assert code == 2
    code, out, err = run(capsys, "request", "change-business-role", "--config", str(EXAMPLE), "--set", "name=DATA_ENGINEER",
                         "--set", "schema_write=", "--set", WHY, "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["validation"]["valid"] and "-  schema_write:" in result["diff"] and "-    - RAW.*" in result["diff"]
