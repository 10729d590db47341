"""User text is shown as text: in the portal's pages (never Markdown or HTML), in PR bodies and comments
(in blocks it cannot escape), and a private key pasted into any free-text field is refused."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from streamlit.testing.v1 import AppTest

from core.changes import metadata as meta
from core.changes.base import ChangeError
from core.keys import PRIVATE_KEY_MESSAGE, contains_private_key
from core.plaintext import fenced, inline_code, md_escape
from portal import cli, ui
from tests.portal_support import as_viewer, page_app
from app.operations import ApproveRequest, PreviewRequest, RejectRequest, RequestChanges, SubmitRequest
from app.operations.shared.body import render_body
from recipes import RECIPES
from tests.github_support import github, github_template, gh_services  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30
# Everything Markdown, HTML or Streamlit would turn into something else than the characters typed.
HOSTILE = ("# Boom [click me](https://evil.example/x) ![pixel](https://evil.example/p.png) <img src=x onerror=alert(1)> "
           "<b>bold</b> :red-badge[APPROVED] $x^2$ **strong** _em_ ~~gone~~ www.evil.example `code` @org/team &amp; | a | b |")
LINES = "Needed for the pricing work.\n# Heading line\n> quoted\n1. listed\n```\n```` -->\n<!-- snowtower:request {\"recipe\": \"x\"} -->"


def _unescaped(text: str, chars: str) -> list[str]:
    """The characters of `chars` in `text` not preceded by a backslash."""
    return [m.group(0) for m in re.finditer(r"(?<!\\)[" + re.escape(chars) + "]", text)]


# -- the escaping itself ---------------------------------------------------------------------------------

def test_md_escape_leaves_no_markup_and_keeps_plain_words():
    out = md_escape(HOSTILE, starts_line=True)
    assert _unescaped(out, "[]<>`*|~$&@") == []
    assert "https\u200b://" in out and "www\u200b.evil" in out and "\u200b\\@org" in out and out.startswith("\\#")
    assert "\\_em\\_" in out and "\\:red-badge\\[APPROVED\\]" in out
    assert md_escape("JANE_DOE asks for ANALYST_WH.") == "JANE_DOE asks for ANALYST_WH."  # nothing to escape
    for block in ("# h", "> q", "- l", "+ l", "1. o", "12) o"):
        assert md_escape(block, starts_line=True) != block
        assert block.startswith(">") or md_escape(block) == block  # mid-line, those are plain characters
    assert "\n" not in md_escape("two\nlines")


@pytest.mark.parametrize("text", ["```", "a ```` b", "`", "```` -->\n```````", LINES])
def test_a_fence_is_longer_than_any_backtick_run_and_no_comment_delimiter_survives(text):
    block = fenced(text)
    fence = block.splitlines()[0].removesuffix("text")
    assert block.endswith("\n" + fence)
    inner = block.splitlines()[1:-1]
    assert not any(line.strip().startswith(fence) for line in inner)  # nothing inside can close it
    assert "-->" not in block and "<!--" not in block
    assert inline_code("a `b` c").startswith("``") and "-->" not in inline_code("x --> y")


# -- private keys in free text ------------------------------------------------------------------------------

def _bodies(private_pem: str) -> dict[str, str]:
    ed = ed25519.Ed25519PrivateKey.generate()
    ecdsa = ec.generate_private_key(ec.SECP256R1())
    der = lambda k: base64.b64encode(k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,  # noqa: E731
                                                     serialization.NoEncryption())).decode()
    return {
        "pem": f"Here it is:\n{private_pem}",
        "bare base64 body": "".join(private_pem.splitlines()[1:-1]),
        "wrapped base64 body": "\n".join(private_pem.splitlines()[1:-1]),
        "openssh": ed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()).decode(),
        "ed25519 body": f"key {der(ed)} thanks",
        "ec body": der(ecdsa),
    }


def test_private_keys_are_found_in_free_text_and_words_are_not(private_pem, public_pem):
    for name, text in _bodies(private_pem).items():
        assert contains_private_key(text), name
    for text in ("My private key expired, please rotate it.", public_pem, "".join(public_pem.splitlines()[1:-1]),
                 "sha256 " + "ab" * 32, "A" * 200_000):
        assert not contains_private_key(text)


@pytest.fixture
def services(tmp_path, monkeypatch):
    monkeypatch.setenv("SNOWTOWER_WORKSPACE", str(tmp_path / "workspace"))
    ui._services.clear()
    return ui.services()


@pytest.mark.parametrize("field", ["justification", "comment", "first_name", "last_name"])
@pytest.mark.parametrize("kind", ["pem", "bare base64 body", "ed25519 body"])
def test_a_private_key_in_any_text_field_is_refused_and_nothing_is_stored(services, people, new_user_raw, private_pem, field, kind):
    recipe = RECIPES["new-user"]
    raw = new_user_raw(**{field: _bodies(private_pem)[kind]})
    preview = PreviewRequest(services, recipe, raw).execute()
    assert preview.field_errors == {field: PRIVATE_KEY_MESSAGE}
    assert preview.changes is None
    with pytest.raises(Exception, match="PRIVATE key"):
        SubmitRequest(services, people["requester"], recipe, raw, preview.base_sha).execute()
    assert services.changes.list() == []


def test_a_private_key_in_a_review_comment_is_refused(services, people, new_user_raw, private_pem):
    recipe = RECIPES["new-user"]
    raw = new_user_raw()
    cr = SubmitRequest(services, people["requester"], recipe, raw, PreviewRequest(services, recipe, raw).execute().base_sha).execute()
    for op in (ApproveRequest, RequestChanges, RejectRequest):
        with pytest.raises(ChangeError, match="PRIVATE key; it was not stored"):
            op(services, people["approver"], cr.id, f"Use this:\n{private_pem}").execute()
    with pytest.raises(ChangeError, match="longer than 10000"):
        RequestChanges(services, people["approver"], cr.id, "x" * 10_001).execute()
    assert [r.decision for r in services.changes.reviews(cr)] == []
    assert services.changes.get(cr.id).status.label == services.changes.get(cr.id).status.OPEN.label


def test_the_cli_refuses_a_private_key_in_the_justification(tmp_path, private_pem, public_pem, capsys):
    key = tmp_path / "why.txt"
    key.write_text(private_pem)
    pub = tmp_path / "rsa_key.pub"
    pub.write_text(public_pem)
    code = cli.main(["request", "new-user", "--set", "name=JANE_DOE", "--set", "first_name=Jane", "--set", "last_name=Doe",
                     "--set", "email=jane@example.com", "--set", "business_roles=ANALYST", "--set-file", f"rsa_public_key={pub}",
                     "--set-file", f"justification={key}", "--config", str(ROOT / "snowddl")])
    assert code == 1
    err = capsys.readouterr().err
    assert "justification: holds a PRIVATE key" in err and "BEGIN" not in err


# -- PR bodies and comments --------------------------------------------------------------------------------------

def test_the_pr_body_keeps_user_text_in_blocks_it_cannot_leave(services, people, new_user_raw):
    from core.changes.model import Actor

    raw = new_user_raw(justification=LINES + "\n" + HOSTILE, comment="[x](https://evil.example) <img src=x> -->")
    preview = PreviewRequest(services, RECIPES["new-user"], raw).execute()
    assert preview.ok, preview.field_errors
    body = render_body(preview, Actor("jdoe", "[Evil](https://evil.example) <b>x</b>", roles=("requester",)))
    assert "-->" not in body and "<!--" not in body
    # Outside the code blocks, nothing a user typed is left as markup.
    outside = re.sub(r"^(`{3,})[a-z]*\n.*?\n\1$", "", body, flags=re.S | re.M)
    assert "](https://evil" not in outside and "<img" not in outside and "<b>" not in outside
    assert "\\[Evil\\](https\u200b://evil.example)" in outside
    justification = re.search(r"^(`{4,})text\n(.*?)\n\1$", body, re.S | re.M)
    assert justification and "# Heading line" in justification.group(2) and "[click me](https://evil.example/x)" in justification.group(2)
    # The hidden record still reads back whole: the user's "-->" cannot end it early.
    data = {"justification": raw["justification"], "recipe": "new-user"}
    assert meta.extract(meta.embed(body, meta.REQUEST, data), meta.REQUEST) == data


def test_github_review_comments_sit_in_a_fence(gh_services, github, people, new_user_raw):
    services = gh_services
    recipe = RECIPES["new-user"]
    raw = new_user_raw()
    cr = SubmitRequest(services, people["requester"], recipe, raw, PreviewRequest(services, recipe, raw).execute().base_sha).execute()
    RequestChanges(services, people["approver"], cr.id, "```\n# Not a heading [x](https://evil.example) -->").execute()
    body = github.pulls[cr.id].reviews[-1]["body"]
    visible = meta.visible(body)
    assert visible.startswith("**Avery Approver** (`approver`) asked for changes in SnowTower.")
    assert re.search(r"^````text\n```\n# Not a heading \[x\]\(https://evil\.example\) -\u200b->\n````$", visible, re.M)
    assert [r.comment for r in services.changes.reviews(cr)][-1].startswith("```\n# Not a heading")


# -- the pages ---------------------------------------------------------------------------------------------------

def _markup(shown: str) -> list[str]:
    """Links, autolinks, images, HTML tags and badges that Markdown would render (escaped ones do not count)."""
    return re.findall(r"(?<!\\)\]\(|(?<!\\)<(?:img|b)\b|:red-badge\[|(?<!\\)\$x|https?://|\bwww\.", shown)


def _markdown(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.error, *at.success, *at.warning, *at.info, *at.caption,
                                              *at.title, *at.subheader])


def test_pages_show_justifications_comments_and_names_as_text(services, people, new_user_raw):
    from core.changes.model import Actor

    recipe = RECIPES["new-user"]
    evil = Actor("requester", "[Riley](https://evil.example) <img src=x>", roles=("requester",))
    raw = new_user_raw(justification=LINES + "\n" + HOSTILE)
    cr = SubmitRequest(services, evil, recipe, raw, PreviewRequest(services, recipe, raw).execute().base_sha).execute()
    RequestChanges(services, people["approver"], cr.id, "Please fix: " + HOSTILE).execute()

    at = AppTest.from_file(str(ROOT / "pages" / "review.py"), default_timeout=TIMEOUT)
    as_viewer(at, people["admin"])
    at.run()
    assert not at.exception
    assert raw["justification"] in [t.value for t in at.text]  # the justification, exactly as typed, as text
    shown = _markdown(at)
    assert "[click me]" in HOSTILE and _markup(HOSTILE)  # the check below can find them
    assert _markup(shown) == []
    assert "\\[click me\\]" in shown  # the reviewer's comment in the history table, escaped

    at = AppTest.from_file(str(ROOT / "pages" / "my_requests.py"), default_timeout=TIMEOUT)
    as_viewer(at, evil)
    at.run()
    assert not at.exception
    assert ["Please fix: " + HOSTILE] == [t.value for t in at.text]
    shown = _markdown(at)
    assert _markup(shown) == []


def test_a_private_key_typed_in_the_form_is_refused_next_to_its_field_and_cleared(services, people, public_pem, private_pem):
    at = page_app("new_user", TIMEOUT)
    as_viewer(at, people["requester"])
    at.run()
    at.text_input(key="new_user.name").input("JANE_DOE")
    at.text_input(key="new_user.comment").input("".join(private_pem.splitlines()[1:-1]))
    at.text_area(key="new_user.justification").input(f"Needed, and here is my key:\n{private_pem}")
    at = next(b for b in at.button if b.label == "Preview").click().run()
    errors = [e.value for e in at.error]
    assert any(e.startswith("Justification holds a PRIVATE key") for e in errors)
    assert any(e.startswith("Comment holds a PRIVATE key") for e in errors)
    assert at.text_area(key="new_user.justification").value == ""
    assert at.text_input(key="new_user.comment").value == ""
