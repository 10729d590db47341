"""Configs in the styles real SnowDDL repositories use (issue 9): each kind of fault, on small inputs of
our own, with the value a user would see."""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from core.snowddl import yaml_reader
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, plan_changes, validate_with_changes
from portal.cli import main as cli
from app.operations.shared.preview import preview
from recipes import RECIPES

WHY = "Needed for the quarterly access review."


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return root


def snap(root: Path, files: dict[str, str | bytes] | None = None, env_prefix: str = "") -> Snapshot:
    if files:
        write(root, files)
    return Snapshot(root.resolve(), None, load_config(root, env_prefix))


def run(recipe: str, raw: dict, base: Snapshot):
    result = preview(RECIPES[recipe], dict(raw, justification=WHY), base)
    return result


def statements(result) -> list[str]:
    return [s["sql"] for s in result.plan.get("statements", [])]


# A small lower-case config in SnowDDL's own style (names as in its docs and tests).
LOWER = {
    "warehouse.yml": "ci_wh:\n  size: XSMALL\n  auto_suspend: 60\n\nbi_wh:\n  size: SMALL\n  auto_suspend: 60\n",
    "business_role.yml": "ci:\n  warehouse_usage: [ci_wh]\n\nbi:\n  warehouse_usage:\n    - bi_wh\n",
    "User.yml": "gh_runner:\n  type: SERVICE\n  business_roles: [ci]\n\nana:\n  type: PERSON\n  email: ana@example.com\n"
                "  business_roles:\n    - bi\n",
}


# -- files and names where SnowDDL finds them ------------------------------------------------------

def test_recipes_edit_the_yml_and_capitalised_files_snowddl_reads(tmp_path, public_pem):
    base = snap(tmp_path / "c", LOWER)
    assert base.config.validation.valid
    assert (base.file("user"), base.file("business_role"), base.file("warehouse")) == ("User.yml", "business_role.yml", "warehouse.yml")
    cases = {
        "new-service-user": ({"name": "svc_x", "rsa_public_key": public_pem, "business_roles": ["ci"]}, "User.yml"),
        "grant-role": ({"name": "ana", "business_roles": ["ci"]}, "User.yml"),
        "change-business-role": ({"name": "bi", "warehouse_usage": ["bi_wh", "ci_wh"]}, "business_role.yml"),
        "new-warehouse": ({"name": "etl_wh", "size": "XSMALL", "auto_suspend": 60}, "warehouse.yml"),
        "new-database": ({"name": "proj", "schemas": "raw", "business_roles": "READ", "size": "XSMALL"}, None),
    }
    for recipe, (raw, rel) in cases.items():
        result = run(recipe, raw, base)
        assert result.ok, (recipe, result.field_errors, result.validation and result.validation.errors)
        if rel:
            assert list(result.changes.files) == [rel], recipe
        assert not any(f in result.changes.files for f in ("user.yaml", "warehouse.yaml", "business_role.yaml")), recipe
        assert not any(s.startswith(("DROP USER", "DROP ROLE", "DROP WAREHOUSE")) for s in statements(result)), recipe
    db = run("new-database", cases["new-database"][0], base)
    assert set(db.changes.files) == {"PROJ/params.yml", "PROJ/RAW/params.yml", "warehouse.yml", "business_role.yml"}
    assert "\nproj_wh:\n" in db.changes.files["warehouse.yml"] and "    - proj_wh\n" in db.changes.files["business_role.yml"]


def test_old_tech_role_file_and_tech_roles_key_are_kept(tmp_path):
    base = snap(tmp_path / "c", {
        "tech_role.yaml": "loader:\n  grants:\n    WAREHOUSE:USAGE: [ci_wh]\nreader:\n  grants:\n    WAREHOUSE:USAGE: [ci_wh]\n",
        "warehouse.yaml": "ci_wh:\n  size: XSMALL\n",
        "business_role.yaml": "ci:\n  tech_roles:\n    - loader\n",
    })
    assert base.config.validation.valid and base.config.technical_roles == ["LOADER", "READER"]
    result = run("change-business-role", {"name": "ci", "technical_roles": ["LOADER", "READER"]}, base)
    assert result.ok, result.field_errors
    text = result.changes.files["business_role.yaml"]
    assert text == "ci:\n  tech_roles:\n    - loader\n    - reader\n"  # the old key, the name as tech_role.yaml writes it
    assert "GRANT ROLE \"READER__T_ROLE\" TO ROLE \"CI__B_ROLE\"" in statements(result)


def test_names_keep_the_config_case_so_the_default_warehouse_follows(tmp_path, public_pem):
    base = snap(tmp_path / "c", LOWER)
    grant = run("grant-role", {"name": "ANA", "business_roles": ["CI"]}, base)
    assert grant.ok
    assert grant.changes.files["User.yml"].endswith("  business_roles:\n    - bi\n    - ci\n")
    # SnowDDL looks bi's first warehouse up by the name as written: the user keeps / gets it.
    new = run("new-service-user", {"name": "svc_two", "rsa_public_key": public_pem, "business_roles": ["CI"]}, base)
    create = next(s for s in statements(new) if s.startswith('CREATE USER "SVC_TWO"'))
    assert "DEFAULT_WAREHOUSE = 'CI_WH'" in create
    assert "    - ci\n" in new.changes.files["User.yml"]


# -- tags, flow style, comments, indentation, line ends --------------------------------------------

def test_decrypt_tags_do_not_break_recipes(tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    from snowddl.fernet.wrapper import FernetWrapper
    from snowddl.parser import _yaml

    key = Fernet.generate_key()  # made at test time, as SnowDDL's snowddl-fernet would
    monkeypatch.setattr(_yaml, "fernet_wrapper", FernetWrapper(key.decode()))
    token = Fernet(key).encrypt(b"not-a-real-password").decode()
    users = f"bob:\n  password: !decrypt {token}\n  business_roles: [r1, r2]\n"
    base = snap(tmp_path / "c", {
        "warehouse.yaml": "wh:\n  size: XSMALL\n",
        "business_role.yaml": "r1:\n  warehouse_usage: [wh]\nr2:\n  warehouse_usage: [wh]\n",
        "user.yaml": users,
    })
    assert base.config.validation.valid and base.config.users == ["BOB"]
    revoke = run("revoke-role", {"name": "bob", "business_roles": ["R2"]}, base)
    assert revoke.ok, revoke.field_errors
    assert revoke.changes.files["user.yaml"] == users.replace("[r1, r2]", "[r1]")
    grant = run("grant-role", {"name": "bob", "business_roles": ["R2"]}, base)
    assert grant.field_errors == {"business_roles": "BOB already has R2."}


def test_flow_lists_and_inline_comments_stay_as_written(tmp_path):
    users = ("alex:\n  email: alex@example.com\n  business_roles: [r1, r2]   # approved in T-1\n\n"
             "casey: {email: casey@example.com, business_roles: [r1]}\n")
    base = snap(tmp_path / "c", {
        "warehouse.yaml": "wh:\n  size: XSMALL\n",
        "business_role.yaml": "r1: {warehouse_usage: [wh]}\nr2: {warehouse_usage: [wh]}\nr3: {warehouse_usage: [wh]}\n",
        "user.yaml": users,
    })
    expected = {
        ("grant-role", "alex", ("r3",)): users.replace("[r1, r2]   #", "[r1, r2, r3]   #"),
        ("revoke-role", "alex", ("r1",)): users.replace("[r1, r2]   #", "[r2]   #"),
        ("grant-role", "casey", ("r2",)): users.replace("business_roles: [r1]}", "business_roles: [r1, r2]}"),
        ("offboard-user", "casey", ()): users.replace("casey: {email: casey@example.com, business_roles: [r1]}",
                                                      "casey: {email: casey@example.com, disabled: true}"),
    }
    for (recipe, name, roles), text in expected.items():
        raw = {"name": name, "business_roles": list(roles)} if roles else {"name": name}
        result = run(recipe, raw, base)
        assert result.ok, (recipe, result.field_errors)
        assert result.changes.files["user.yaml"] == text, recipe


def test_indentation_and_a_missing_final_newline_are_the_files_own(tmp_path, public_pem):
    users = "alex:\n    email: alex@example.com\n    business_roles:\n        - r1\n\n# contractors\nblake:\n    email: b@example.com"
    base = snap(tmp_path / "c", {"warehouse.yaml": "wh:\n    size: XSMALL\n",
                                 "business_role.yaml": "r1:\n    warehouse_usage:\n        - wh\n", "user.yaml": users})
    grant = run("grant-role", {"name": "blake", "business_roles": ["r1"]}, base)
    assert grant.changes.files["user.yaml"] == users + "\n    business_roles:\n        - r1"
    other = run("offboard-user", {"name": "alex"}, base)
    assert other.changes.files["user.yaml"].endswith("blake:\n    email: b@example.com")  # not "fixed" elsewhere
    new = run("new-user", {"name": "cara", "first_name": "C", "last_name": "D", "email": "c@example.com",
                           "rsa_public_key": public_pem, "business_roles": ["r1"]}, base)
    assert "\ncara:\n    type: PERSON\n" in new.changes.files["user.yaml"]  # lower-case like the file's keys
    assert "\n    business_roles:\n        - r1" in new.changes.files["user.yaml"].split("cara:")[1]


def test_crlf_files_stay_crlf_in_preview_and_edit(tmp_path):
    base = snap(tmp_path / "c", {"warehouse.yaml": b"wh:\r\n  size: XSMALL\r\n",
                                 "business_role.yaml": b"r1:\r\n  warehouse_usage:\r\n    - wh\r\n",
                                 "user.yaml": b"# people\r\nalex:\r\n  email: a@example.com\r\n"})
    grant = run("grant-role", {"name": "alex", "business_roles": ["r1"]}, base)
    assert grant.ok
    assert grant.changes.files["user.yaml"] == "# people\r\nalex:\r\n  email: a@example.com\r\n  business_roles:\r\n    - r1\r\n"
    changed = [line for line in grant.diff.split("\n")[2:] if line.startswith(("+", "-"))]
    assert changed == ["+  business_roles:\r", "+    - r1\r"]


def _git_diff(tmp_path: Path, rel: str, old: str, new: str) -> str:
    repo = tmp_path / "git"
    write(repo, {rel: old})
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x", "-c", "core.autocrlf=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    write(repo, {rel: new})
    out = subprocess.run([*git, "diff", "--no-color", "-U3"], check=True, capture_output=True).stdout.decode()
    return out[out.index("--- "):]


def test_the_preview_diff_is_the_diff_git_shows(tmp_path):
    users = "alex:\n  email: a@example.com\n\nblake:\n  email: b@example.com"  # no final newline
    files = {"warehouse.yaml": "wh:\n  size: XSMALL\n", "business_role.yaml": "r1:\n  warehouse_usage: [wh]\n",
             "user.yaml": users}
    base = snap(tmp_path / "c", files)
    for name in ("blake", "alex"):
        result = run("grant-role", {"name": name, "business_roles": ["r1"]}, base)
        assert result.diff == _git_diff(tmp_path / name, "user.yaml", users, result.changes.files["user.yaml"]), name
    crlf = "alex:\r\n  email: a@example.com\r\n"
    base = snap(tmp_path / "d", dict(files, **{"user.yaml": crlf.encode()}))
    result = run("offboard-user", {"name": "alex"}, base)
    assert result.diff == _git_diff(tmp_path / "crlf", "user.yaml", crlf, result.changes.files["user.yaml"])


def test_a_crlf_config_is_committed_byte_for_byte_as_previewed(services, people):
    from app.operations import PreviewRequest, SubmitRequest

    repo = services.changes.repo
    main = services.changes.base_head()
    text = repo.read_text(main, "snowddl/user.yaml").replace("\n", "\r\n")
    head = repo.commit_files(main, {"snowddl/user.yaml": text}, "CRLF user file", ("t", "t@example.com"))
    repo.update_ref("refs/heads/main", head, main)
    raw = {"name": "TLINDQVIST", "business_roles": ["ANALYST"], "justification": WHY}
    result = PreviewRequest(services, RECIPES["grant-role"], raw).execute()
    assert result.ok, result.field_errors
    cr = SubmitRequest(services, people["requester"], RECIPES["grant-role"], raw, result.base_sha).execute()
    committed = subprocess.run(["git", "cat-file", "blob", f"{cr.head_sha}:snowddl/user.yaml"],
                               capture_output=True, env=repo._env(), check=True).stdout
    assert committed == result.changes.files["user.yaml"].encode("utf-8")
    stat = repo.git("diff", "--numstat", head, cr.head_sha).split()
    assert stat[:2] == ["1", "0"]  # one line added, nothing rewritten


# -- duplicates, anchors, placeholders: the entry SnowDDL deploys, or a refusal ---------------------

DUP = {"warehouse.yaml": "wh:\n  size: XSMALL\n", "business_role.yaml": "r1:\n  warehouse_usage: [wh]\n",
       "user.yaml": "alex:\n  emial: typo@example.com\n  business_roles: [r1]\n\nblake:\n  email: b@example.com\n\n"
                    "alex:\n  email: alex@example.com\n  business_roles: [r1]\n"}


def test_the_last_copy_of_a_duplicate_key_is_validated_edited_and_warned(tmp_path, capsys):
    base = snap(tmp_path / "c", DUP)
    assert base.config.validation.valid  # the shadowed copy's typo is ignored, as SnowDDL ignores it
    warning = [w for w in base.config.validation.warnings if w.kind == "duplicate"]
    assert [(w.file, w.line, w.object) for w in warning] == [("user.yaml", 8, "ALEX")]
    result = run("offboard-user", {"name": "ALEX"}, base)
    assert result.changes.files["user.yaml"].endswith("alex:\n  email: alex@example.com\n  disabled: true\n")
    assert result.changes.files["user.yaml"].startswith("alex:\n  emial: typo@example.com\n  business_roles: [r1]\n")
    assert any(s.startswith('ALTER USER "ALEX" SET\nDISABLED = TRUE') for s in statements(result))
    assert "defined 2 times" in result.changes.summary
    assert any(w.kind == "duplicate" for w in result.validation.warnings)
    assert cli(["validate", str(tmp_path / "c")]) == 0
    assert "user.yaml:8: alex is defined 2 times (lines 1, 8)" in capsys.readouterr().out


def test_editing_a_value_shared_through_an_anchor_is_refused(tmp_path):
    base = snap(tmp_path / "c", {
        "warehouse.yaml": "base_wh: &defaults\n  size: XSMALL\n  auto_suspend: 60\n\nbi_wh:\n  <<: *defaults\n  comment: BI\n",
    })
    assert base.config.validation.valid
    shared = run("change-warehouse", {"name": "base_wh", "size": "LARGE"}, base)
    assert shared.changes is None and "BI_WH" in shared.field_errors["size"].upper() and "anchor" in shared.field_errors["size"]
    own = run("change-warehouse", {"name": "bi_wh", "size": "MEDIUM"}, base)
    assert own.ok and own.changes.files["warehouse.yaml"].endswith("  <<: *defaults\n  comment: BI\n  size: MEDIUM\n")


def test_a_placeholder_is_never_overwritten(tmp_path):
    base = snap(tmp_path / "c", {"placeholder.yaml": "wh_size: XSMALL\n", "warehouse.yaml": "wh:\n  size: ${{ wh_size }}\n"})
    assert base.config.validation.valid
    result = run("change-warehouse", {"name": "wh", "size": "LARGE"}, base)
    assert result.changes is None and "placeholder" in result.field_errors["size"]


def test_edit_refusals_are_field_messages_on_the_cli(tmp_path, capsys):
    write(tmp_path / "c", {"placeholder.yaml": "wh_size: XSMALL\n", "warehouse.yaml": "wh:\n  size: ${{ wh_size }}\n"})
    code = cli(["request", "change-warehouse", "--config", str(tmp_path / "c"), "--set", "name=wh", "--set", "size=LARGE",
                "--set", f"justification={WHY}"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("snowtower request: size: warehouse.yaml:") and "Traceback" not in err


# -- validation: every validator error with its file and line; knock-on only when it follows ---------

def test_every_validator_error_has_its_file_and_line(tmp_path):
    root = write(tmp_path / "c", {
        "warehouse.yaml": "wh:\n  size: XSMALL\n",
        "tech_role.yaml": "# loaders\nloader:\n  grants:\n    DATABASE:USAGE: [nowhere]\n",
        "db1/params.yaml": "comment: x\nowner_schema_read:\n  - db1.s1\n",
        "db1/s1/params.yaml": "",
        "db1/s1/table/t.yaml": "columns:\n  id: NUMBER(38,0)\n",
        "db1/s1/view/v.yaml": "text: select 1\ndepends_on:\n  - db1.s1.missing\n",
        "db1/s1/task/child.yaml": "body: select 1\nafter:\n  - db1.s1.missing_task\n",
        "db1/s1/stream/st.yaml": "object_type: TABLE\nobject_name: db1.s1.t\n",
        "db1/s1/dynamic_table/dt.yaml": "text: select 1\nwarehouse: wh\ntarget_lag: 1 hour\nscheduler: DISABLE\n",
    })
    errors = {e.message.split(" ")[0]: e for e in load_config(root).validation.errors}
    places = {k: (e.file, e.line, e.knock_on) for k, e in errors.items()}
    assert places == {
        "Technical": ("tech_role.yaml", 2, False),
        "Cannot": ("db1/params.yaml", 2, False),
        "View": ("db1/s1/view/v.yaml", 2, False),
        "Task": ("db1/s1/task/child.yaml", 3, False),  # the `after:` item naming the missing task
        "Stream": ("db1/s1/stream/st.yaml", 2, False),  # object_name: the table without change tracking
        "Dynamic": ("db1/s1/dynamic_table/dt.yaml", 3, False),  # the line of the key the message names
    }


SCHEMA = {"db/params.yaml": "", "db/sc/params.yaml": "", "db/sc2/params.yaml": "", "db/sc/task/root.yaml": "body: select 1\n"}


def _first_error_line(tmp_path, name, files, env_prefix=""):
    errors = load_config(write(tmp_path / name, {**SCHEMA, **files}), env_prefix).validation.errors
    assert len(errors) == 1, [e.message for e in errors]
    return errors[0].line


def test_a_validator_error_points_at_the_value_naming_the_other_object(tmp_path):
    """Found by the attack pass on the value lookup: each of these reported another line."""
    wh = {"warehouse.yaml": "etl:\n  size: XSMALL\n"}
    # a task named like its warehouse: the after: item, not the warehouse: line
    assert _first_error_line(tmp_path, "a", {**wh, "db/sc/task/child.yaml": "body: select 1\nwarehouse: etl\nafter:\n  - etl\n"}) == 4
    # a comment that says the same name is never the reference
    assert _first_error_line(tmp_path, "b", {"db/sc/table/t.yaml": "columns:\n  id: NUMBER(38,0)\n",
                                             "db/sc/stream/s.yaml": "object_type: TABLE\ncomment: t\nobject_name: t\n"}) == 3
    # a short name resolves in the task's own schema: `root` exists, db.sc2.root does not
    assert _first_error_line(tmp_path, "c", {"db/sc/task/child.yaml": "body: select 1\nafter:\n  - root\n  - db.sc2.root\n"}) == 4
    # full names under an env prefix (SnowDDL's message says DEV__DB.SC.MISSING)
    assert _first_error_line(tmp_path, "d", {"db/sc/task/child.yaml": "body: select 1\nafter:\n  - db.sc.root\n  - db.sc.missing\n"},
                             env_prefix="dev") == 4
    # a stream named like its table: the table is still the one the message is about
    assert _first_error_line(tmp_path, "e", {"db/sc/table/events.yaml": "columns:\n  id: NUMBER(38,0)\n",
                                             "db/sc/stream/events.yaml": "comment: stream\nobject_type: TABLE\nobject_name: events\n"}) == 3
    # an alias: the line of the list it is used in, not its anchor's (a composed alias keeps only the anchor's place)
    assert _first_error_line(tmp_path, "f", {"db/sc/task/child.yaml": "body: select 1\nsession_params:\n  QUERY_TAG: &t missing\n"
                                                                       "after:\n  - root\n  - *t\n"}) == 4
    # SnowDDL's "does not exist in config" is not the task's `config:` key
    assert _first_error_line(tmp_path, "g", {"db/sc/task/child.yaml": "body: select 1\nconfig: '{\"a\": 1}'\nafter:\n  - missing\n"}) == 4
    # "with type [SERVICE]" labels a name; the property the message is about is first_name
    assert _first_error_line(tmp_path, "h", {"user.yaml": "svc:\n  comment: x\n  type: SERVICE\n  first_name: S\n"}) == 4


def test_knock_on_only_when_it_follows_from_a_failed_object(tmp_path):
    root = write(tmp_path / "c", {
        "sandbox/params.yaml": "owner: someone\n",  # a bad key in another file
        "warehouse.yaml": "good_wh:\n  size: XSMALL\nbad_wh:\n  size: XSMALL\n  colour: red\n",  # bad_wh fails
        "technical_role.yaml": "unrelated:\n  grants:\n    DATABASE:USAGE: [raw]\n",
        "business_role.yaml": "follows:\n  warehouse_usage: [bad_wh]\n",
    })
    errors = {e.object: e.knock_on for e in load_config(root).validation.errors if e.kind == "reference"}
    assert errors == {"UNRELATED": False, "FOLLOWS": True}


def test_env_prefixes_snowddl_refuses_are_refused(tmp_path):
    root = write(tmp_path / "c", {"warehouse.yaml": "wh:\n  size: XSMALL\n"})
    for prefix in ("dev", "DEV__", "dev_"):
        assert load_config(root, prefix).validation.valid, prefix
    for prefix in ("my_dev_", "de-v", "dev___"):
        errors = load_config(root, prefix).validation.errors
        assert len(errors) == 1 and "env prefix" in errors[0].message, prefix


def test_programmatic_objects_are_warned_not_previewed_and_run_only_on_request(tmp_path):
    root = write(tmp_path / "c", {
        "warehouse.yaml": "wh:\n  size: XSMALL\n",
        "__custom/01_more.py": "from snowddl.blueprint import AccountObjectIdent, WarehouseBlueprint\n"
                               "def handler(config):\n"
                               "    config.add_blueprint(WarehouseBlueprint(full_name=AccountObjectIdent(config.env_prefix, 'gen_wh'),"
                               " type='STANDARD', size='XSMALL', auto_suspend=60))\n",
    })
    loaded = load_config(root)
    assert [(w.file, w.kind) for w in loaded.validation.warnings] == [("__custom/01_more.py", "programmatic")]
    assert loaded.warehouses == ["WH"]
    base = Snapshot(root, None, loaded)
    assert "PROGRAMMATIC (__custom/01_more.py)" in plan_changes(base, loaded).not_previewed
    ran = load_config(root, run_custom_python=True)
    assert ran.validation.valid and ran.validation.warnings == [] and ran.warehouses == ["GEN_WH", "WH"]


# -- plans: each statement's own object; what is left out is said -----------------------------------

def test_each_statement_is_labelled_with_its_own_object(tmp_path):
    base = snap(tmp_path / "c", {"warehouse.yaml": "wh:\n  size: XSMALL\n"})
    result = run("new-database", {"name": "proj_x", "schemas": "raw"}, base)
    labels = {(s["action"], s["object_type"], s["object"]) for s in result.plan["statements"] if s["action"] != "GRANT"}
    assert ("DROP", "SCHEMA", "PROJ_X.PUBLIC") in labels and ("CREATE", "DATABASE", "PROJ_X") in labels
    assert not any(s["action"] == "DROP" and s["object_type"] == "DATABASE" for s in result.plan["statements"])


def test_share_roles_are_planned_and_what_is_not_planned_is_listed(tmp_path):
    base = snap(tmp_path / "base", {"business_role.yaml": "analyst:\n  comment: x\n"})
    head_dir = write(tmp_path / "head", {
        "business_role.yaml": "analyst:\n  comment: x\nmkt:\n  share_read: [weather]\n",
        "db1/params.yaml": "", "db1/s1/params.yaml": "", "db1/s1/view/v.yaml": "text: select 1\n",
    })
    plan = plan_changes(base, load_config(head_dir))
    sqls = [s.sql for s in plan.statements]
    first = sqls.index('CREATE ROLE "WEATHER__SH_ROLE"')
    assert sqls[first:first + 3] == ['CREATE ROLE "WEATHER__SH_ROLE"', 'GRANT ROLE "WEATHER__SH_ROLE" TO ROLE "SNOWDDL_ADMIN"',
                        'GRANT IMPORTED PRIVILEGES ON DATABASE "WEATHER" TO ROLE "WEATHER__SH_ROLE"']
    assert 'GRANT ROLE "WEATHER__SH_ROLE" TO ROLE "MKT__B_ROLE"' in sqls
    assert plan.not_previewed == ["VIEW"]
    same = load_config(head_dir)
    assert plan_changes(Snapshot(head_dir, None, same), same).statements == []


# -- bounded work on hostile sizes ------------------------------------------------------------------

def test_huge_lists_are_refused_before_any_item_is_checked(tmp_path, monkeypatch):
    base = snap(tmp_path / "c", {"warehouse.yaml": "wh:\n  size: XSMALL\n", "business_role.yaml": "r1: {warehouse_usage: [wh]}\n",
                                 "user.yaml": "alex:\n  email: a@example.com\n"})
    from core import fields

    checked = []
    real = fields.identifier
    monkeypatch.setattr(fields, "identifier", lambda f, v: checked.append(v) or real(f, v))
    db = run("new-database", {"name": "big", "schemas": ",".join(f"S{i}" for i in range(64_000))}, base)
    assert db.field_errors["schemas"] == "is too long: at most 50 items per request."
    grant = run("grant-role", {"name": "alex", "business_roles": ["R1"] * 5000}, base)
    assert grant.field_errors["business_roles"] == "is too long: at most 200 items per request."
    assert len(checked) < 10  # the names only, never the 69,000 list items


def test_a_change_to_a_large_user_file_parses_only_the_touched_entry(tmp_path, monkeypatch):
    users = "".join(f"user_{i:05d}:\n  email: u{i}@example.com\n  business_roles:\n    - r1\n\n" for i in range(3000))
    base = snap(tmp_path / "c", {"warehouse.yaml": "wh:\n  size: XSMALL\n",
                                 "business_role.yaml": "r1: {warehouse_usage: [wh]}\nr2: {warehouse_usage: [wh]}\n",
                                 "user.yaml": users})
    parsed: list[int] = []
    for name in ("compose", "load"):
        real = getattr(yaml, name)
        monkeypatch.setattr(yaml, name, lambda text, *a, _real=real, **k: (
            parsed.append(len(text)) if isinstance(text, str) else None) or _real(text, *a, **k))
    yaml_reader.load_entry.cache_clear()
    result = run("grant-role", {"name": "user_01500", "business_roles": ["r2"]}, base)
    assert result.ok
    assert parsed and max(parsed) < 1000  # never the whole 170 kB file
    assert [line for line in result.diff.splitlines()[2:] if line.startswith(("+", "-"))] == ["+    - r2"]
    assert result.diff.splitlines()[2] == "@@ -7502,6 +7502,7 @@ user_01500:"


def test_revalidation_of_a_changed_file_sees_the_change(tmp_path):
    base = snap(tmp_path / "c", LOWER)
    head = validate_with_changes(base, {"User.yml": LOWER["User.yml"].replace("[ci]", "[nope]")})
    assert [e.file for e in head.validation.errors] == ["User.yml"]


# -- forms: an example never looks like a value ------------------------------------------------------

def test_form_examples_are_worded_as_examples_and_defaults_are_values(tmp_path, monkeypatch, people):
    from tests.test_pages import page

    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "workspace"))
    at = page("warehouse", people["requester"])
    auto = next(t for t in at.text_input if t.label.startswith("Auto-suspend"))
    assert auto.value == "60"  # a real default: sent as the request's value
    at = page("database", people["requester"])
    inputs = {t.label: t for t in at.text_input}
    quota = inputs["Monthly credit quota"]
    assert quota.value == "" and quota.proto.placeholder.startswith("e.g. 50")
    assert all(not t.proto.placeholder or t.proto.placeholder.startswith("e.g.") for t in at.text_input)
    at.text_input(key="database.name").input("PROJ_Q")
    at.text_input(key="database.schemas").input("RAW")
    at.text_area(key="database.justification").input(WHY)
    at.selectbox(key="database.size").set_value("SMALL")
    at = next(b for b in at.button if b.label == "Preview").click().run()
    from tests.test_pages import texts

    assert not at.error, [e.value for e in at.error]
    assert "no resource monitor" in texts(at)


def test_replacing_every_item_of_a_list_keeps_the_key_where_it_was(tmp_path):
    roles = "bi:\n  warehouse_usage: [wh_a]   # the team's own\n  comment: BI team\n"
    base = snap(tmp_path / "c", {"warehouse.yaml": "wh_a:\n  size: XSMALL\nwh_b:\n  size: XSMALL\n", "business_role.yaml": roles})
    result = run("change-business-role", {"name": "bi", "warehouse_usage": ["WH_B"]}, base)
    assert result.ok, result.field_errors
    assert result.changes.files["business_role.yaml"] == roles.replace("[wh_a]", "[wh_b]")


def test_a_key_written_twice_inside_an_entry_is_edited_where_snowddl_reads_it(tmp_path):
    users = "alex:\n  business_roles: [r1]\n  email: a@example.com\n  business_roles:\n    - r2\n"
    base = snap(tmp_path / "c", {"warehouse.yaml": "wh:\n  size: XSMALL\n",
                                 "business_role.yaml": "r1: {warehouse_usage: [wh]}\nr2: {warehouse_usage: [wh]}\nr3: {warehouse_usage: [wh]}\n",
                                 "user.yaml": users})
    assert [(w.line, w.message.split(" is ")[0]) for w in base.config.validation.warnings] == [(4, "alex.business_roles")]
    grant = run("grant-role", {"name": "alex", "business_roles": ["r3"]}, base)
    assert grant.changes.files["user.yaml"] == users + "    - r3\n"
    off = run("offboard-user", {"name": "alex"}, base)
    assert off.changes.files["user.yaml"] == "alex:\n  email: a@example.com\n  disabled: true\n"  # no copy comes back
    assert yaml_reader.load(off.changes.files["user.yaml"])["alex"].get("business_roles") is None


def test_a_byte_order_mark_does_not_hide_the_first_entry(tmp_path):
    base = snap(tmp_path / "c", {"warehouse.yaml": "wh:\n  size: XSMALL\n", "business_role.yaml": "r1: {warehouse_usage: [wh]}\n",
                                 "user.yaml": "\ufeffalex:\n  email: a@example.com\n"})
    assert base.config.validation.valid and base.config.users == ["ALEX"]
    grant = run("grant-role", {"name": "alex", "business_roles": ["r1"]}, base)
    assert grant.ok and grant.changes.files["user.yaml"] == "\ufeffalex:\n  email: a@example.com\n  business_roles:\n    - r1\n"


def test_new_files_follow_the_configs_suffix_and_folder_case(tmp_path):
    base = snap(tmp_path / "c", dict(LOWER, **{"raw_db/params.yml": "comment: raw\n", "raw_db/landing/params.yml": ""}))
    result = run("new-database", {"name": "PROJ", "schemas": "RAW", "business_roles": "READ"}, base)
    assert result.ok, result.field_errors
    assert set(result.changes.files) == {"proj/params.yml", "proj/raw/params.yml", "business_role.yml"}
    assert "\nproj_read:\n" in result.changes.files["business_role.yml"]


def test_an_oversized_issue_body_is_refused_unread(monkeypatch, capsys):
    import io

    from portal import issue_form

    seen = []
    monkeypatch.setattr(issue_form, "parse_issue_form", lambda body, recipe: seen.append(body) or {})
    monkeypatch.setattr("sys.stdin", io.StringIO("### User name\n" + "x" * 200_000))
    assert issue_form.main(["--recipe", "new-user"]) == 1
    assert seen == [] and "longer than 65536 characters" in capsys.readouterr().err


def test_a_new_role_uses_the_key_spelling_the_file_uses(tmp_path):
    base = snap(tmp_path / "c", {"technical_role.yaml": "loader:\n  comment: x\n", "business_role.yaml": "ci:\n  tech_roles: [loader]\n"})
    result = run("new-business-role", {"name": "etl", "technical_roles": ["LOADER"]}, base)
    assert result.ok, result.field_errors
    assert result.changes.files["business_role.yaml"].endswith("\netl:\n  tech_roles:\n    - loader\n")
