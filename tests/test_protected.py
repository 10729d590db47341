"""Protected accounts (settings protected_users, protected_roles): a request whose change would touch the
user SnowDDL deploys with, its user role, or a role it needs is refused at preview with a field error,
through the preview and submit operations and `snowtower request --submit`; nothing is submitted."""
from __future__ import annotations

import pytest

from app.operations import PreviewRequest, SubmitRequest
from app.operations.shared.protected import protected_touched
from app.services import build_services
from app.settings import load_settings
from portal import cli
from recipes import RECIPES, FieldErrors

JUSTIFY = "needed for the quarter"


@pytest.fixture
def guarded(tmp_path, monkeypatch):
    """A demo workspace whose settings protect the dbt service user and the DBT_RUNNER business role."""
    workspace = tmp_path / "workspace"
    monkeypatch.setenv("SNOWTOWER_PROTECTED_USERS", "svc_dbt")
    monkeypatch.setenv("SNOWTOWER_PROTECTED_ROLES", "DBT_RUNNER__B_ROLE")
    return build_services(load_settings(workspace))


def preview(services, recipe, **raw):
    return PreviewRequest(services, RECIPES[recipe], raw).execute()


def test_the_settings_read_names_from_the_environment(guarded):
    assert guarded.settings.protected_users == ["SVC_DBT"] and guarded.settings.protected_roles == ["DBT_RUNNER__B_ROLE"]


def test_a_bad_name_in_the_settings_is_a_settings_problem(tmp_path, monkeypatch):
    from app.settings import inspect_settings

    _, problems = inspect_settings(tmp_path, environ={"SNOWTOWER_PROTECTED_USERS": "OK_USER,drop user x;"})
    assert [p.key for p in problems] == ["protected_users"]


def test_offboarding_the_deploying_user_is_refused_at_preview_on_its_field(guarded):
    result = preview(guarded, "offboard-user", name="SVC_DBT", justification=JUSTIFY)
    assert set(result.field_errors) == {"name"} and not result.ok
    message = result.field_errors["name"]
    assert message.startswith("this request would change ") and "user SVC_DBT" in message and "protected_users" in message


def test_granting_a_protected_role_is_refused_on_the_roles_field(guarded):
    result = preview(guarded, "grant-role", name="PRAMAN", business_roles=["DBT_RUNNER"], justification=JUSTIFY)
    assert set(result.field_errors) == {"business_roles"}
    assert "role DBT_RUNNER__B_ROLE" in result.field_errors["business_roles"]


def test_other_requests_pass_and_a_typed_name_is_not_read_as_a_change(guarded):
    assert preview(guarded, "grant-role", name="PRAMAN", business_roles=["ANALYST"], justification=JUSTIFY).ok
    # The protected name typed as text (a justification) changes nothing of that account.
    assert preview(guarded, "offboard-user", name="MOKAFOR", justification="like SVC_DBT and \"SVC_DBT\"").ok


def test_without_protected_settings_nothing_is_refused(services):
    assert preview(services, "offboard-user", name="SVC_DBT", justification=JUSTIFY).ok


def test_submit_refuses_it_and_opens_nothing(guarded, people):
    before = guarded.changes.list()
    with pytest.raises(FieldErrors) as exc:
        SubmitRequest(guarded, people["requester"], RECIPES["offboard-user"], {"name": "SVC_DBT", "justification": JUSTIFY}, None).execute()
    assert "user SVC_DBT" in str(exc.value.by_field()["name"])
    assert guarded.changes.list() == before


def test_the_cli_refuses_it_with_the_field_error(guarded, monkeypatch, capsys):
    monkeypatch.setenv("SNOWTOWER_USER", "requester")
    code = cli.main(["request", "offboard-user", "--set", "name=SVC_DBT", "--set", f"justification={JUSTIFY}",
                     "--submit", "--workspace", str(guarded.settings.workspace)])
    assert code == 1
    err = capsys.readouterr().err
    assert "snowtower request: name: this request would change " in err and "user SVC_DBT" in err
    assert guarded.changes.list() == []


@pytest.mark.parametrize("statement, touched", [
    ({"sql": 'DROP USER "SVC_DBT"', "object": "SVC_DBT"}, ["user SVC_DBT"]),
    ({"sql": 'REVOKE ROLE "X__B_ROLE" FROM ROLE "SVC_DBT__U_ROLE"', "object": "X__B_ROLE"}, ["user SVC_DBT"]),
    ({"sql": 'GRANT ROLE "ADMIN_ROLE" TO ROLE "SOMEONE__U_ROLE"', "object": "SOMEONE__U_ROLE"}, ["role ADMIN_ROLE"]),
    ({"sql": "ALTER USER \"PRAMAN\" SET COMMENT = 'SVC_DBT'", "object": "PRAMAN"}, []),
    ({"sql": 'DROP USER "SVC_DBT_OLD"', "object": "SVC_DBT_OLD"}, []),
])
def test_which_statements_touch_a_protected_account(statement, touched):
    assert protected_touched({"statements": [statement]}, ["SVC_DBT"], ["ADMIN_ROLE"]) == touched
