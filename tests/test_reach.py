"""Reach through the role hierarchy, checked on the example config against what its YAML declares."""
from __future__ import annotations

import html
import re

from pathlib import Path

import pytest

from core.findings.reach import ReachGraph, dot
from core.snowddl.config_loader import load_config
from core.snowddl.baseline import Baseline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    return ReachGraph.from_baseline(Baseline.from_config(load_config(ROOT / "snowddl").snowddl))


def users(rows):
    return sorted(r["user"] for r in rows)


def test_who_can_reach_a_schema(graph):
    # RAW.STRIPE: FINANCE_ANALYST (STRIPE_READ technical role), schema_read RAW.* of ANALYTICS_ENGINEER,
    # DATA_ENGINEER and DBT_RUNNER, and LOADER owning RAW's schemas.
    rows = graph.who_can_reach("SCHEMA", "RAW.STRIPE")
    assert users(rows) == ["EVASQUEZ", "GADEYEMI", "LMURPHY", "MOKAFOR", "PRAMAN", "SVC_DBT", "SVC_FIVETRAN", "TLINDQVIST"]
    by = {r["user"]: r for r in rows}
    assert by["GADEYEMI"]["path"] == ["GADEYEMI__U_ROLE", "FINANCE_ANALYST__B_ROLE", "STRIPE_READ__T_ROLE"]
    assert by["GADEYEMI"]["privileges"] == ["SELECT on future TABLE", "SELECT on future VIEW", "USAGE"]
    assert "OWNERSHIP on future TABLE" in by["SVC_FIVETRAN"]["privileges"]
    assert "HCHO" not in by  # ANALYST reads HubSpot, Klaviyo and Shopify, not Stripe


def test_who_can_reach_a_warehouse_includes_technical_roles(graph):
    # BI_WH: BI_TOOL's warehouse_usage, and DATA_ENGINEER's WAREHOUSE_OPERATOR and warehouse_monitor.
    assert users(graph.who_can_reach("WAREHOUSE", "BI_WH")) == ["MOKAFOR", "PRAMAN", "SVC_LOOKER"]
    assert graph.who_can_reach("WAREHOUSE", "NO_SUCH_WH") == []


def test_what_can_a_user_reach(graph):
    rows = {(r["kind"], r["object"]): r for r in graph.what_can_reach("HCHO")}
    assert set(rows) == {
        ("DATABASE", "ANALYTICS"), ("DATABASE", "DEV_SANDBOX"), ("DATABASE", "PROJ_CHURN"), ("DATABASE", "RAW"),
        ("SCHEMA", "ANALYTICS.MARKETING"), ("SCHEMA", "ANALYTICS.MARTS"), ("SCHEMA", "DEV_SANDBOX.SCRATCH"),
        ("SCHEMA", "PROJ_CHURN.SCORING"), ("SCHEMA", "RAW.HUBSPOT"), ("SCHEMA", "RAW.KLAVIYO"), ("SCHEMA", "RAW.SHOPIFY"),
        ("WAREHOUSE", "ANALYST_WH"),
    }
    assert rows[("SCHEMA", "DEV_SANDBOX.SCRATCH")]["privileges"] == ["CREATE TABLE", "CREATE VIEW", "USAGE"]
    assert graph.what_can_reach("NOBODY") == []


def test_reach_agrees_with_the_warehouses_the_yaml_grants(graph):
    """Every user's warehouses: the warehouse_usage / warehouse_monitor of their business roles, plus every
    warehouse of a technical role with warehouse grants (WAREHOUSE_OPERATOR) they hold."""
    import yaml

    roles = yaml.safe_load((ROOT / "snowddl" / "business_role.yaml").read_text())
    tech = yaml.safe_load((ROOT / "snowddl" / "technical_role.yaml").read_text())
    people = yaml.safe_load((ROOT / "snowddl" / "user.yaml").read_text())
    for name, user in people.items():
        expected = set()
        for role in user.get("business_roles") or []:
            spec = roles[role]
            expected |= set(spec.get("warehouse_usage") or []) | set(spec.get("warehouse_monitor") or [])
            for t in spec.get("technical_roles") or []:
                for grant, names in (tech[t].get("grants") or {}).items():
                    if grant.startswith("WAREHOUSE:"):
                        expected |= set(names)
        got = {r["object"] for r in graph.what_can_reach(name) if r["kind"] == "WAREHOUSE"}
        assert got == expected, name


HOSTILE = ['A"B', "TRAILING\\", 'X\\" -> "EVIL" [URL="javascript:alert(1)"]; "Y', "<b>bold</b>&amp;",
           "line\nbreak\\N\\G", "NUL\x00BEL\x07", "{ } [ ] ; = -- ->"]
# Every line of the graph: a fixed header, a node declared by id with a label made of safe characters
# and character references only, an edge between ids, or the closing brace. Nothing typed can end a
# string, add an attribute (URL, href, ...) or another statement.
_EDGE_KIND = r'(?: \[color="#[0-9a-f]{6}", style=(?:bold|solid|dashed), penwidth=2\])?'
_LINE = re.compile(r'digraph reach \{|  rankdir=LR; nodesep=0.15; ranksep=0.5;|'
                   r'  node \[shape=box, style="rounded,filled", fillcolor="#[0-9a-f]{6}", '
                   r'fontname="Helvetica", fontsize=14\];|  edge \[color="#[0-9a-f]{6}"\];|'
                   r'  n\d+ \[label=<[A-Za-z0-9 _.,:()-]*(?:&#\d+;[A-Za-z0-9 _.,:()-]*)*>'
                   r'(?:, fillcolor="#[0-9a-f]{6}")?(?:, shape=cylinder)?\];|  n\d+ -> n\d+' + _EDGE_KIND + ';|'
                   r'  subgraph cluster_legend \{ label="privilege"; fontsize=13; style=dashed; color="#[0-9a-f]{6}";|'
                   r'    legend_(owner|write|read)_a \[label="", shape=point, width=0.05\]; legend_\1_b \[label="\1", shape=plaintext, style=""\];|'
                   r'    legend_(owner|write|read)_a -> legend_\2_b' + _EDGE_KIND + r';|  \}|'
                   r'  more \[label="\.\.\. and \d+ more \(see the table\)", shape=note, fillcolor=white\];|\}')


def _labels(text: str) -> dict[str, str]:
    return {m[1]: html.unescape(m[2]) for m in re.finditer(r"^  (n\d+) \[label=<([^>]*)>", text, re.M)}


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_any_name_draws_as_its_own_text(name):
    rows = [{"user": name, "path": [name + " ROLE", "R"], "privileges": []}]
    text = dot(rows, f"WAREHOUSE {name}")
    for line in text.splitlines():
        assert _LINE.fullmatch(line), line
    shown = " ".join(name.split())  # line breaks draw as spaces; control characters are dropped
    shown = "".join(c for c in shown if c.isprintable())
    labels = _labels(text)
    assert sorted(labels.values()) == sorted([shown, shown + " ROLE", "R", "WAREHOUSE " + shown])
    ids = {v: k for k, v in labels.items()}
    edges = set(re.findall(r"^  (n\d+) -> (n\d+)(?: \[[^\]]*\])?;$", text, re.M))
    assert edges == {(ids[shown], ids[shown + " ROLE"]), (ids[shown + " ROLE"], ids["R"]), (ids["R"], ids["WAREHOUSE " + shown])}


def test_user_roles_fold_into_their_user_and_edges_tell_owner_write_read(graph):
    from core.findings.reach import USER_ROLE_SUFFIX, privilege_kind, summary, summary_text

    assert privilege_kind(["OWNERSHIP"]) == "owner" and privilege_kind(["SELECT", "INSERT"]) == "write"
    assert privilege_kind(["USAGE", "SELECT on future TABLE"]) == "read"
    assert privilege_kind(["CREATE TABLE"]) == "write"
    rows = graph.who_can_reach("SCHEMA", "RAW.STRIPE")
    assert rows and all(r["path"][0].endswith(USER_ROLE_SUFFIX) for r in rows)  # the walk keeps them ...
    text = dot(rows, "SCHEMA RAW.STRIPE")
    assert USER_ROLE_SUFFIX not in text  # ... the drawing folds them into the user
    labels = _labels(text)
    ids = {v: k for k, v in labels.items()}
    first_roles = {r["path"][1] for r in rows}
    for r in rows:  # each user points straight at its business role
        assert f"  {ids[r['user']]} -> {ids[r['path'][1]]};" in text
    groups = summary(rows)
    assert sum(n for _, n, _ in groups) == len(rows) and {g for g, _, _ in groups} == first_roles
    assert [n for _, n, _ in groups] == sorted((n for _, n, _ in groups), reverse=True)
    line = summary_text(rows, "users")
    assert line.startswith(f"{len(rows)} users: {groups[0][1]} through {groups[0][0]}")
    coloured = re.findall(r'-> n\d+ \[color="(#[0-9a-f]{6})", style=(\w+)', text)
    assert coloured and {c for c, _ in coloured} <= {"#b42318", "#c4320a", "#175cd3"}
