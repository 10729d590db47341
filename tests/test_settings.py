"""Settings: settings.toml, SNOWTOWER_* environment overrides with their types, backend selection."""
import pytest

from app.settings import load_settings


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


@pytest.mark.parametrize("env,message", [({"SNOWTOWER_BACKEND": "gitlab"}, "backend must be"),
                                         ({"SNOWTOWER_BACKEND": "github"}, "needs github_repository"),
                                         ({"SNOWTOWER_REQUIRED_APPROVALS": "two"}, "wrong type"),
                                         # money = credits x price: a price that is not a finite amount
                                         # printed "nan USD" and wrote NaN into `snowtower cost --format json`
                                         ({"SNOWTOWER_PRICE_PER_CREDIT": "-1"}, "price_per_credit must be"),
                                         ({"SNOWTOWER_PRICE_PER_CREDIT": "nan"}, "price_per_credit must be"),
                                         ({"SNOWTOWER_PRICE_PER_CREDIT": "inf"}, "price_per_credit must be"),
                                         ({"SNOWTOWER_CURRENCY": "<b>$</b>"}, "currency must be"),
                                         ({"SNOWTOWER_DEMO_QUERY_ROWS": "0"}, "demo_query_rows must be"),
                                         ({"SNOWTOWER_DEMO_QUERY_ROWS": "99999999999"}, "demo_query_rows must be")])
def test_bad_settings_are_refused_with_a_message(tmp_path, monkeypatch, env, message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match=message):
        load_settings(tmp_path)


def test_price_and_currency_of_the_cost_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_PRICE_PER_CREDIT", "2.75")
    monkeypatch.setenv("SNOWTOWER_CURRENCY", "eur")
    s = load_settings(tmp_path)
    assert (s.price_per_credit, s.currency) == (2.75, "EUR")
