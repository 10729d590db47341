"""Settings: settings.toml, SNOWTOWER_* environment overrides with their types, backend selection."""
import pytest

from pydantic import SecretStr

from app.settings import (REPO_ROOT, Settings, SettingsError, github_secrets, inspect_settings, load_settings, markdown,
                          signing_key, summary)


def test_defaults_are_the_demo(tmp_path, monkeypatch):
    for name in ("SNOWTOWER_BACKEND", "SNOWTOWER_GITHUB_REPOSITORY", "SNOWTOWER_REQUIRED_APPROVALS"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings(tmp_path)
    assert (s.backend, s.mode, s.required_approvals) == ("local", "demo", 1)


def test_a_repository_selects_github_and_production(tmp_path, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_GITHUB_REPOSITORY", "acme/infra")
    monkeypatch.setenv("SNOWTOWER_REQUIRED_APPROVALS", "2")
    monkeypatch.setenv("SNOWTOWER_GITHUB_SECONDS_BETWEEN_WRITES", "1.0")
    s = load_settings(tmp_path)
    assert (s.backend, s.mode, s.github_repository) == ("github", "production", "acme/infra")
    assert s.required_approvals == 2 and s.github_seconds_between_writes == 1.0


def test_environment_wins_over_the_file(tmp_path, monkeypatch):
    (tmp_path / "settings.toml").write_text('[snowtower]\nrequired_approvals = 3\nbase_branch = "trunk"\n')
    monkeypatch.setenv("SNOWTOWER_REQUIRED_APPROVALS", "2")
    s = load_settings(tmp_path)
    assert (s.required_approvals, s.base_branch) == (2, "trunk")


# Each problem names the key, what is wrong, and the variable it came from.
@pytest.mark.parametrize("env,message", [({"SNOWTOWER_BACKEND": "gitlab"}, "backend: wrong type: Input should be 'local' or 'github' (from environment variable SNOWTOWER_BACKEND)"),
                                         ({"SNOWTOWER_BACKEND": "github"}, "github_repository: is needed by backend = github"),
                                         ({"SNOWTOWER_REQUIRED_APPROVALS": "two"}, "required_approvals: wrong type"),
                                         ({"SNOWTOWER_REQUIRED_APPROVALS": "0"}, "required_approvals: Input should be greater than or equal to 1"),
                                         # money = credits x price: a price that is not a finite amount
                                         # printed "nan USD" and wrote NaN into `snowtower cost --format json`
                                         ({"SNOWTOWER_PRICE_PER_CREDIT": "-1"}, "price_per_credit: Input should be greater than or equal to 0"),
                                         ({"SNOWTOWER_PRICE_PER_CREDIT": "nan"}, "price_per_credit: Input should be a finite number"),
                                         ({"SNOWTOWER_PRICE_PER_CREDIT": "inf"}, "price_per_credit: Input should be a finite number"),
                                         ({"SNOWTOWER_CURRENCY": "<b>$</b>"}, "currency: must be a three-letter ISO 4217 code"),
                                         ({"SNOWTOWER_DEMO_QUERY_ROWS": "0"}, "demo_query_rows: Input should be greater than or equal to 1"),
                                         ({"SNOWTOWER_DEMO_QUERY_ROWS": "99999999999"}, "demo_query_rows: must be between 1 and 50,000,000"),
                                         ({"SNOWTOWER_REQUIRED_APPROVAL": "2"}, "required_approval: unknown setting; did you mean required_approvals? (from environment variable SNOWTOWER_REQUIRED_APPROVAL)"),
                                         ({"SNOWTOWER_EXPIRY_AUTO_APPROVE": "perhaps"}, "expiry_auto_approve: wrong type"),
                                         ({"SNOWTOWER_SIS_ROLE_MAPPING": "SNOWTOWER_ADMIN=root"}, "sis_role_mapping: maps to portal roles"),
                                         ({"SNOWTOWER_RISK_WAREHOUSE_SIZE_THRESHOLD": "HUGE"}, "risk_warehouse_size_threshold: must be a warehouse size"),
                                         ({"SNOWTOWER_NOTIFY_SMTP_HOST": "mail.example.com"}, "notify_smtp_from: notify_smtp_host needs notify_smtp_from"),
                                         ({"SNOWTOWER_RUNTIME": "sis"}, "backend: Streamlit in Snowflake has no local git repository")])
def test_bad_settings_are_refused_with_a_message(tmp_path, monkeypatch, env, message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError) as caught:
        load_settings(tmp_path)
    assert message in str(caught.value)


def test_a_misspelled_key_in_settings_toml_is_named_with_its_file(tmp_path):
    """The issue's example: `required_approval = 2` used to leave the security setting at 1 silently."""
    (tmp_path / "settings.toml").write_text('[snowtower]\nrequired_approval = 2\nprice_per_credit = "cheap"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    shown = [str(p) for p in caught.value.problems]
    where = f"{tmp_path / 'settings.toml'} [snowtower]"
    assert shown == [f"required_approval: unknown setting; did you mean required_approvals? (from {where})",
                     f"price_per_credit: wrong type: Input should be a valid number, unable to parse string as a number (from {where})"]


def test_a_broken_or_foreign_settings_file_is_named(tmp_path):
    (tmp_path / "settings.toml").write_text('[snowtower\n')
    _, problems = inspect_settings(tmp_path, environ={})
    assert [p.key for p in problems] == ["settings.toml"] and "not valid TOML" in problems[0].message
    (tmp_path / "settings.toml").write_text('[snowtowr]\nmode = "demo"\n')
    _, problems = inspect_settings(tmp_path, environ={})
    assert [(p.key, p.message) for p in problems] == [("snowtowr", "unknown table: settings live in [snowtower]")]


def test_every_problem_is_listed_at_once(tmp_path):
    env = {"SNOWTOWER_REQUIRED_APPROVALS": "x", "SNOWTOWER_CURRENCY": "dollars", "SNOWTOWER_BACKEND": "github"}
    _, problems = inspect_settings(tmp_path, environ=env)
    assert sorted(p.key for p in problems) == ["currency", "github_repository", "required_approvals"]


def test_secrets_are_secret_types_and_never_printed(tmp_path):
    env = {"SNOWTOWER_GITHUB_TOKEN": "ghp_supersecret", "SNOWTOWER_NOTIFY_SMTP_PASSWORD": "hunter2hunter2",
           "SNOWTOWER_GITHUB_REPOSITORY": "acme/infra"}
    settings, problems = inspect_settings(tmp_path, environ=env)
    assert problems == []
    assert isinstance(settings.github_token, SecretStr) and settings.github_token.get_secret_value() == "ghp_supersecret"
    shown = repr(settings) + str(settings) + str(summary(settings))
    assert "ghp_supersecret" not in shown and "hunter2hunter2" not in shown
    assert ("github_token", "**********") in summary(settings) and ("notify_slack_bot_token", "") in summary(settings)
    assert github_secrets(settings)["token"] == "ghp_supersecret"


def test_a_wrong_secret_is_reported_without_its_value(tmp_path):
    (tmp_path / "settings.toml").write_text('[snowtower]\nnotify_smtp_password = ["hunter2hunter2"]\n')
    _, problems = inspect_settings(tmp_path, environ={})
    assert [p.key for p in problems] == ["notify_smtp_password"] and "hunter2" not in str(problems[0])


def test_the_workspace_is_not_a_setting_of_its_own_file(tmp_path):
    (tmp_path / "settings.toml").write_text('[snowtower]\nworkspace = "/elsewhere"\n')
    _, problems = inspect_settings(tmp_path, environ={})
    assert [(p.key, p.message) for p in problems] == [("workspace", "is set by --workspace or SNOWTOWER_WORKSPACE only")]


def test_streamlit_in_snowflake_defaults_and_rules(tmp_path):
    env = {"SNOWTOWER_RUNTIME": "sis", "SNOWTOWER_GITHUB_REPOSITORY": "acme/infra"}
    settings, problems = inspect_settings(tmp_path, environ=env)
    assert problems == [] and settings.in_sis
    assert (settings.backend, settings.mode, settings.audit_log) == ("github", "production", "snowflake")
    _, problems = inspect_settings(tmp_path, environ={**env, "SNOWTOWER_AUDIT_LOG": "sqlite"})
    assert [p.key for p in problems] == ["audit_log"]
    with pytest.raises(SettingsError, match="signing_key"):  # no workspace to keep a generated key
        signing_key(settings)


def test_base_url_gives_the_path_streamlit_serves_under(tmp_path):
    settings, problems = inspect_settings(tmp_path, environ={"SNOWTOWER_BASE_URL": "https://tools.example.com/snowtower/"})
    assert problems == [] and settings.base_url_path == "snowtower"
    _, problems = inspect_settings(tmp_path, environ={"SNOWTOWER_BASE_URL": "javascript:alert(1)"})
    assert [p.key for p in problems] == ["base_url"]


def test_docs_settings_md_matches_the_schema():
    """docs/settings.md is generated from the schema: regenerate with `python -m app.settings --markdown`."""
    doc = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert doc == markdown()
    for name in Settings.model_fields:
        assert f"`{name}`" in doc


def test_price_and_currency_of_the_cost_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_PRICE_PER_CREDIT", "2.75")
    monkeypatch.setenv("SNOWTOWER_CURRENCY", "eur")
    s = load_settings(tmp_path)
    assert (s.price_per_credit, s.currency) == (2.75, "EUR")


def test_snowtower_check_lists_every_problem_and_exits_1(tmp_path, monkeypatch, capsys):
    from portal import cli

    (tmp_path / "settings.toml").write_text('[snowtower]\nrequired_approval = 2\n')
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SMTP_PASSWORD", "hunter2hunter2")
    monkeypatch.setenv("SNOWTOWER_MODE", "prod")
    assert cli.main(["check", "--workspace", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"error   required_approval: unknown setting; did you mean required_approvals? "
                   f"(from {tmp_path / 'settings.toml'} [snowtower])",
                   "error   mode: wrong type: Input should be 'demo' or 'production' (from environment variable SNOWTOWER_MODE)",
                   "2 problem(s) in SnowTower's settings (docs/settings.md describes every setting)"]


def test_snowtower_check_says_ok_and_shows_the_effective_settings_masked(tmp_path, monkeypatch, capsys):
    from portal import cli

    (tmp_path / "settings.toml").write_text('[snowtower]\nrequired_approvals = 2\n')
    monkeypatch.setenv("SNOWTOWER_NOTIFY_SMTP_PASSWORD", "hunter2hunter2")
    monkeypatch.delenv("SNOWTOWER_MODE", raising=False)
    assert cli.main(["check", "--workspace", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "ok"
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["required_approvals"] == ["2"] and rows["notify_smtp_password"] == ["**********"]
    assert set(rows) == set(Settings.model_fields) and "hunter2hunter2" not in out


def test_serve_behind_a_reverse_proxy_serves_under_the_base_url_path(tmp_path, monkeypatch):
    from portal import cli

    (tmp_path / "settings.toml").write_text('[snowtower]\nbase_url = "https://tools.example.com/snowtower"\n')
    started = []
    monkeypatch.setattr(cli.os, "execvpe", lambda exe, argv, env: started.append(argv))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["serve", "--workspace", str(tmp_path)]) == 0
    argv = started[0]
    assert argv[argv.index("--server.baseUrlPath") + 1] == "snowtower"


def test_serve_with_wrong_settings_lists_them_and_starts_nothing(tmp_path, monkeypatch, capsys):
    from portal import cli

    (tmp_path / "settings.toml").write_text('[snowtower]\nrequired_approval = 2\n')
    started = []
    monkeypatch.setattr(cli.os, "execvpe", lambda exe, argv, env: started.append(argv))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["serve", "--workspace", str(tmp_path)]) == 1
    assert started == [] and "required_approval: unknown setting" in capsys.readouterr().err


def test_in_snowflake_the_github_token_comes_from_the_apps_snowflake_secret(tmp_path, monkeypatch):
    """The warehouse runtime reads a secret given to the app (SECRETS = ('github' = db.schema.secret))
    with _snowflake.get_generic_secret_string; the container runtime finds it in st.secrets."""
    import sys
    import types

    asked = []
    fake = types.ModuleType("_snowflake")
    fake.get_generic_secret_string = lambda name: asked.append(name) or "ghp_from_snowflake"
    monkeypatch.setitem(sys.modules, "_snowflake", fake)
    env = {"SNOWTOWER_GITHUB_REPOSITORY": "acme/infra", "SNOWTOWER_GITHUB_SECRET_NAME": "github"}
    settings, problems = inspect_settings(tmp_path, environ=env)
    assert problems == [] and settings.runtime == "sis"  # detected: the _snowflake module is there
    assert github_secrets(settings)["token"] == "ghp_from_snowflake" and asked == ["github"]
    settings, _ = inspect_settings(tmp_path, environ={**env, "SNOWTOWER_GITHUB_APP_ID": "42"})
    assert github_secrets(settings)["private_key"] == "ghp_from_snowflake"  # with an App id: the App's key


def test_toml_types_are_taken_as_written_and_true_is_not_a_number(tmp_path):
    (tmp_path / "settings.toml").write_text('[snowtower]\ngithub_app_id = 12345\nprice_per_credit = 2\n'
                                            'expiry_auto_approve = false\nrequired_approvals = true\n')
    settings, problems = inspect_settings(tmp_path, environ={})
    assert [str(p) for p in problems] == [f"required_approvals: wrong type: true/false is not a value of this setting "
                                          f"(from {tmp_path / 'settings.toml'} [snowtower])"]
    assert (settings.github_app_id, settings.price_per_credit, settings.expiry_auto_approve) == ("12345", 2.0, False)


def test_a_huge_settings_file_is_refused_before_it_is_parsed(tmp_path):
    (tmp_path / "settings.toml").write_text("[snowtower]\n" + "# padding\n" * 120_000)
    _, problems = inspect_settings(tmp_path, environ={})
    assert [(p.key, p.message) for p in problems] == [("settings.toml", "is larger than 1 MB: it cannot be a settings file")]
