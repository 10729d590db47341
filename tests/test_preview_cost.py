"""One preview: a warehouse request's projected monthly cost is part of the application layer's preview
(app.operations.shared.preview), so the portal's form and `snowtower request --format json` show the same figures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from portal import ui
from portal.cli import main
from tests.portal_support import page_app

ROOT = Path(__file__).resolve().parents[1]
JUSTIFICATION = "BI dashboards queue on Monday mornings."


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    path = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(path))
    monkeypatch.setenv("SNOWTOWER_DEMO_QUERY_ROWS", "5000")
    monkeypatch.setenv("SNOWTOWER_PRICE_PER_CREDIT", "2.5")
    monkeypatch.setenv("SNOWTOWER_CURRENCY", "EUR")
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT", raising=False)
    return path


def portal_preview(people, page: str, prefix: str, fields: dict) -> AppTest:
    at = page_app(page.removesuffix(".py"), 60)
    at.session_state[ui.VIEWER_KEY] = people["requester"]
    at.run()
    for name, value in fields.items():
        key = prefix + name
        widget = next((w for w in [*at.text_input, *at.text_area, *at.selectbox] if w.key == key))
        (widget.set_value(value) if hasattr(widget, "options") else widget.input(value))
        if name == "name" and prefix == "change_warehouse.":
            at.run()  # the form starts from the chosen warehouse
    at = next(b for b in at.button if b.label == "Preview").click().run()
    assert not at.exception, at.exception
    return at


def cli_preview(capsys, workspace, recipe: str, fields: dict) -> dict:
    sets = [a for k, v in fields.items() for a in ("--set", f"{k}={v}")]
    capsys.readouterr()
    code = main(["request", recipe, *sets, "--config", str(ROOT / "snowddl"), "--workspace", str(workspace),
                 "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def shown(at: AppTest) -> dict:
    """The projection as the portal draws it: metric label -> (value, help), and the basis caption."""
    metrics = {m.label: (m.value, m.proto.help) for m in at.metric if "per month" in m.label}
    basis = [c.value for c in at.caption if "per credit" in c.value]
    return {"metrics": metrics, "basis": basis}


def as_portal_draws(cost: dict) -> dict:
    """The CLI's JSON figures written the way the portal's widget writes them."""
    cur = cost["currency"]
    metrics = {"After this change, per month": (f"{cost['projected_money']:,.0f} {cur}",
                                                f"{cost['projected_credits']:,.1f} credits per month")}
    if cost["current_credits"] is not None:
        metrics["Today, per month"] = (f"{cost['current_money']:,.0f} {cur}", f"{cost['current_credits']:,.1f} credits per month")
    return {"metrics": metrics, "basis": [f"{cost['basis']}; {cost['price_per_credit']:,.2f} {cur} per credit."]}


def test_a_warehouse_change_shows_the_same_projection_in_the_portal_and_the_cli(workspace, people, capsys):
    fields = {"name": "BI_WH", "size": "MEDIUM", "auto_suspend": "60", "justification": JUSTIFICATION}
    at = portal_preview(people, "change_warehouse.py", "change_warehouse.", fields)
    out = cli_preview(capsys, workspace, "change-warehouse", fields)
    cost = out["cost"]
    assert out["cost_note"] == "" and cost["warehouse"] == "BI_WH" and not cost["estimate"]
    assert (cost["price_per_credit"], cost["currency"]) == (2.5, "EUR")
    assert cost["current_credits"] > 0 and cost["projected_money"] == pytest.approx(cost["projected_credits"] * 2.5)
    assert "BI_WH's last 30 days of metering" in cost["basis"]
    assert shown(at) == as_portal_draws(cost)
    # the preview object the portal drew from is the one the CLI printed
    preview = at.session_state["change_warehouse.preview"]
    assert preview.cost.to_dict() == {k: v for k, v in cost.items() if k != "currency"}


def test_a_new_warehouse_shows_the_same_estimate_in_the_portal_and_the_cli(workspace, people, capsys):
    fields = {"name": "MARKETING_WH", "size": "LARGE", "auto_suspend": "60", "justification": JUSTIFICATION}
    at = portal_preview(people, "warehouse.py", "warehouse.", fields)
    cost = cli_preview(capsys, workspace, "new-warehouse", fields)["cost"]
    assert cost["estimate"] and cost["current_credits"] is None and cost["projected_credits"] > 0
    assert cost["basis"].startswith("estimate: MARKETING_WH has no metering yet")
    assert shown(at) == as_portal_draws(cost)


def test_the_cli_text_names_the_projection_and_other_requests_have_none(workspace, people, capsys):
    fields = {"name": "MARKETING_WH", "size": "LARGE", "auto_suspend": "60", "justification": JUSTIFICATION}
    portal_preview(people, "warehouse.py", "warehouse.", fields)  # the demo account exists from here on
    cost = cli_preview(capsys, workspace, "new-warehouse", fields)["cost"]
    sets = [a for k, v in fields.items() for a in ("--set", f"{k}={v}")]
    assert main(["request", "new-warehouse", *sets, "--config", str(ROOT / "snowddl"), "--workspace", str(workspace)]) == 0
    text = capsys.readouterr().out
    assert (f"projected monthly cost (estimate): after this change {cost['projected_credits']:,.1f} credits "
            f"({cost['projected_money']:,.0f} EUR) at 2.50 EUR per credit") in text
    assert f"cost basis: {cost['basis']}" in text
    out = cli_preview(capsys, workspace, "new-database", {"name": "SALES", "schemas": "RAW", "justification": JUSTIFICATION})
    assert out["cost"] is None and out["cost_note"] == ""


def test_without_an_account_the_cli_says_why_there_is_no_projection(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "none"))
    monkeypatch.delenv("SNOWFLAKE_ACCOUNT", raising=False)
    fields = {"name": "MARKETING_WH", "size": "LARGE", "justification": JUSTIFICATION}
    out = cli_preview(capsys, tmp_path / "none", "new-warehouse", fields)
    assert out["cost"] is None
    assert out["cost_note"].startswith("cost projection unavailable: no Snowflake account to read")
    assert not (tmp_path / "none").exists()  # a preview creates no workspace


def test_the_config_rows_are_the_demo_generators_own():
    """core.snowddl.inventory.describe (no duckdb: it runs in Streamlit in Snowflake) gives the rows the
    demo account is generated from (core.snowflake.demo.describe), so cost figures and demo agree."""
    from core.snowddl.inventory import describe
    from core.snowddl.config_loader import load_config
    from core.snowflake import demo

    config = load_config(ROOT / "snowddl")
    rows = describe(config)
    assert rows == demo.describe(config)
    assert rows["warehouses"] and {"name", "size", "auto_suspend", "max_clusters", "monitor"} <= set(rows["warehouses"][0])
