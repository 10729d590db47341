"""`snowtower validate` and `snowtower request`: exit codes, JSON shapes, refusals that write nothing."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portal.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "snowddl"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_the_example_exits_0(capsys):
    code, out, _ = run(capsys, "validate", str(EXAMPLE), "--format", "json")
    assert code == 0
    assert json.loads(out) == {"valid": True, "errors": [], "warnings": []}


def test_validate_reports_errors_with_lines_and_exits_1(capsys, tmp_path):
    config = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, config)
    (config / "user.yaml").write_text((config / "user.yaml").read_text() + "\nGHOST:\n  business_roles:\n    - NOBODY\n")
    code, out, _ = run(capsys, "validate", str(config), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    [error] = report["errors"]
    assert set(error) >= {"file", "line", "object", "kind", "message"}
    assert (error["file"], error["object"]) == ("user.yaml", "GHOST") and error["line"] > 1
    code, out, _ = run(capsys, "validate", str(config))
    assert code == 1 and "user.yaml:" in out and "INVALID" in out


def test_validate_with_placeholder_values(capsys, tmp_path):
    config = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, config)
    (config / "warehouse.yaml").write_text((config / "warehouse.yaml").read_text() + "\nPH_WH:\n  size: ${{ wh_size }}\n")
    code, out, _ = run(capsys, "validate", str(config), "--format", "json")
    assert code == 1 and "WH_SIZE" in out
    assert run(capsys, "validate", str(config), "--placeholder-values", '{"wh_size": "SMALL"}')[0] == 0
    assert run(capsys, "validate", str(config), "--placeholder-values", "[1]")[0] == 2


def test_validate_usage_and_io_errors_exit_2(capsys, tmp_path):
    assert run(capsys, "validate", str(tmp_path / "missing"))[0] == 2
    assert run(capsys, "validate", "--format", "xml")[0] == 2


def test_request_preview_prints_diff_and_writes_nothing(capsys, tmp_path, public_pem):
    config = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, config)
    before = (config / "user.yaml").read_bytes()
    key = tmp_path / "rsa_key.pub"
    key.write_text(public_pem)
    code, out, err = run(
        capsys, "request", "new-user", "--config", str(config), "--format", "json",
        "--set", "name=cli_user", "--set", "first_name=Cli", "--set", "last_name=User",
        "--set", "email=cli@cascaderidge.example", "--set", "business_roles=ANALYST,DATA_SCIENTIST",
        "--set-file", f"rsa_public_key={key}", "--set", "justification=Testing the command line.",
    )
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= {"diff", "files", "validation", "plan"}
    assert result["files"] == ["user.yaml"]
    assert "+CLI_USER:" in result["diff"] and "+    - DATA_SCIENTIST" in result["diff"]
    assert result["validation"]["valid"] is True
    creates = [(st["action"], st["object_type"], st["object"]) for st in result["plan"]["statements"] if st["action"] == "CREATE"]
    assert creates == [("CREATE", "USER_ROLE", "CLI_USER__U_ROLE"), ("CREATE", "USER", "CLI_USER")]
    assert not result["plan"]["unsafe"] and result["plan"]["errors"] == []
    assert (config / "user.yaml").read_bytes() == before


@pytest.mark.parametrize(
    "field,value,message",
    [("name", 'bad"name', "name:"), ("email", "not-an-email", "email:"), ("business_roles", "NOPE", "business_roles:")],
)
def test_request_refusals_exit_1_naming_the_field(capsys, public_pem, field, value, message):
    values = {"name": "ok_name", "first_name": "A", "last_name": "B", "email": "a@b.example", "business_roles": "ANALYST",
              "rsa_public_key": public_pem, "justification": "Because it is needed."}
    values[field] = value
    argv = ["request", "new-user", "--config", str(EXAMPLE)]
    for k, v in values.items():
        argv += ["--set", f"{k}={v}"]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert message in err


def test_a_private_key_is_refused_and_never_printed(capsys, private_pem):
    argv = ["request", "new-user", "--config", str(EXAMPLE), "--format", "json", "--set", "name=x1", "--set", "first_name=A",
            "--set", "last_name=B", "--set", "email=a@b.example", "--set", "business_roles=ANALYST",
            "--set", f"rsa_public_key={private_pem}", "--set", "justification=Because it is needed."]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert "PRIVATE key" in err
    body_line = private_pem.splitlines()[1]
    assert body_line not in out and body_line not in err


def test_request_usage_errors_exit_2(capsys):
    assert run(capsys, "request", "no-such-recipe")[0] == 2
    code, _, err = run(capsys, "request", "new-user", "--config", str(EXAMPLE), "--set", "default_role=X")
    assert code == 2 and "no field 'default_role'" in err
    assert run(capsys, "request", "new-user", "--set", "novalue")[0] == 2


def test_request_submit_opens_a_change_request(capsys, tmp_path, public_pem, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_USER", "cli-person")
    argv = ["request", "new-user", "--submit", "--workspace", str(tmp_path / "ws"), "--format", "json",
            "--set", "name=cli_submitted", "--set", "first_name=A", "--set", "last_name=B",
            "--set", "email=a@b.example", "--set", "business_roles=ANALYST", "--set", f"rsa_public_key={public_pem}",
            "--set", "justification=Submitted from the command line."]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    submitted = json.loads(out)["submitted"]
    assert submitted["branch"].startswith("snowtower/1-")
    from app.services import build_services
    from app.settings import load_settings

    services = build_services(load_settings(tmp_path / "ws"))
    assert services.changes.get(submitted["id"]).requester == "cli-person"


def test_the_installed_command_runs():
    proc = subprocess.run([sys.executable, "-m", "portal.cli", "validate", str(EXAMPLE)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "valid" in proc.stdout


# -- a closed pipe, ./dev's usage, a base invalid before the change ------------------------------------------

def test_a_closed_pipe_ends_quietly():
    """`snowtower validate --format json | head -1`: the reader goes away; no BrokenPipeError traceback."""
    proc = subprocess.run(f"{sys.executable} -m portal.cli validate snowddl --format json | head -1",
                          shell=True, capture_output=True, text=True, cwd=ROOT)
    assert proc.stdout == "{\n" and proc.stderr == ""
    # The reader gone before a byte is written (output beyond any pipe buffer is the same case).
    reader = subprocess.Popen([sys.executable, "-m", "portal.cli", "validate", "snowddl", "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    reader.stdout.close()
    err = reader.stderr.read().decode()
    assert reader.wait() == 141 and err == ""


def test_dev_without_arguments_prints_its_usage_with_setup():
    proc = subprocess.run(["bash", str(ROOT / "dev")], capture_output=True, text=True, cwd=ROOT)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 2 and lines[0].startswith("SnowTower developer entry point")
    assert [line.split()[1] for line in lines[1:]] == ["demo", "test", "lint", "snowtower", "setup"]


def _invalid_base(config):
    text = (config / "user.yaml").read_text()
    (config / "user.yaml").write_text(text + "\nGHOST:\n  first_name: Ghost\n  business_roles:\n    - NOBODY\n")


def test_a_request_on_a_config_invalid_before_says_so_not_that_it_broke_it(capsys, tmp_path, public_pem):
    config = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, config)
    _invalid_base(config)
    argv = ["request", "new-user", "--config", str(config), "--set", "name=cli_user", "--set", "first_name=Cli",
            "--set", "last_name=User", "--set", "email=cli@cascaderidge.example", "--set", "business_roles=ANALYST",
            "--set", f"rsa_public_key={public_pem}", "--set", "justification=Testing the command line."]
    code, out, err = run(capsys, *argv)
    assert code == 1 and "validation: FAILED" in out
    assert err == ("snowtower request: the configuration was already invalid before this change: the base has 1 "
                   "error(s) (snowtower validate lists them); fix the base first, then ask again\n")
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert code == 1 and json.loads(out)["base_valid"] is False
    shutil.rmtree(config)
    shutil.copytree(EXAMPLE, config)
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert code == 0 and json.loads(out)["base_valid"] is True


def test_the_preview_operation_names_a_base_branch_invalid_before_the_change(services, new_user_raw):
    from core.changes.base import ChangeError
    from core.changes.model import Actor
    from app.operations import PreviewRequest, SubmitRequest
    from recipes import RECIPES

    repo, main = services.changes.repo, services.changes.base_head()
    text = (services.changes.config_at(main) / "user.yaml").read_text()
    broken = repo.commit_files(main, {"snowddl/user.yaml": text + "\nGHOST:\n  business_roles:\n    - NOBODY\n"},
                               "Pushed past the portal\n", ("Someone", "someone@example.com"))
    repo.update_ref("refs/heads/main", broken, main)
    result = PreviewRequest(services, RECIPES["new-user"], new_user_raw()).execute()
    assert not result.validation.valid and result.base_errors == 1
    assert result.rejection().startswith("the configuration was already invalid before this change: the base has 1")
    with pytest.raises(ChangeError, match="already invalid before this change.*nothing was submitted"):
        SubmitRequest(services, Actor("requester", "requester", roles=("requester",)), RECIPES["new-user"],
                      new_user_raw(), broken).execute()
