"""The portal's pages with the GitHub backend (AppTest + the GitHub test server): the same flow as the demo."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.changes.model import Status
from portal import ui
from tests.portal_support import as_viewer
from app.operations import PreviewRequest, SubmitRequest
from recipes import RECIPES
from tests.github_support import github, github_template, write_settings  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]


def page(name, actor):
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=30)
    as_viewer(at, actor)
    return at.run()


def test_review_queue_and_home_on_github(tmp_path, github, monkeypatch, people, new_user_raw):
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("SNOWTOWER_GITHUB_TOKEN", "bot-token")
    write_settings(tmp_path / "ws", github)
    services = ui.services()
    raw = new_user_raw()
    preview = PreviewRequest(services, RECIPES["new-user"], raw).execute()
    cr = SubmitRequest(services, people["requester"], RECIPES["new-user"], raw, preview.base_sha).execute()

    at = page("review", people["approver"])
    assert not at.exception
    assert "+JANE_DOE:" in "\n".join(str(c.value) for c in at.code)
    at = next(b for b in at.button if b.label == "Approve").click().run()
    assert not at.exception and services.changes.get(cr.id).status == Status.APPROVED
    at = page("review", people["admin"])
    at = next(b for b in at.button if b.label == "Merge and deploy").click().run()
    assert not at.exception
    assert services.changes.get(cr.id).status == Status.MERGED and github.pulls[cr.id].merged

    home = page("home", people["requester"])
    assert not home.exception
    assert any("New person user JANE_DOE" in str(m.value) for m in home.markdown)
