"""Property-based tests of every recipe: generated input (unicode, quotes, newlines, YAML and SQL
metacharacters, very long strings, private keys) never crashes a recipe, never yields YAML SnowDDL
rejects (bad input is a field error instead), never touches a file the recipe does not declare, and
never reorders, changes or loses an entry the request is not about.

100 inputs per recipe by default, 12 recipes: 1,200 generated requests per run, about half of them
valid (each validated by SnowDDL), the rest refused with field errors.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.snowddl.edit import entries
from core.snowddl.config_loader import load_config
from core.snowddl.commit_snapshot import Snapshot, validate_with_changes
from recipes import RECIPES, FieldErrors
from recipes.common import SIZE_LABELS, choices_for

FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
EXAMPLE = Path(__file__).resolve().parents[1] / "snowddl"
# Per recipe; SNOWTOWER_HYPOTHESIS_EXAMPLES=1000 for a longer hunt (12,000 requests).
EXAMPLES_PER_RECIPE = int(os.environ.get("SNOWTOWER_HYPOTHESIS_EXAMPLES", "100"))
SETTINGS = settings(max_examples=EXAMPLES_PER_RECIPE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HOSTILE = [
    "", " ", "x\"y", "a'b", "a\nb", "a\r\nb", "a: b", "- x", "# c", "x # c", "{x}", "[x]", "&a", "*a", "!decrypt x",
    "!!python/object/apply:os.system ['id']", "'; DROP USER PRAMAN; --", 'x"; GRANT ROLE ACCOUNTADMIN TO USER X; --',
    "A__B", "a.b", "RAW.*", "*.*", "..", "null", "~", "true", "no", "0x1F", "1e3", "%s", "@x", "`id`", "\\", "$(id)",
    "\u202e", "\x00", "\t", "é", "日本語", "😀", "ǅ", " leading", "trailing ", "---", "...", "? x", "| x", "> x",
    "<<: *x", "ANALYST\n- ACCOUNTADMIN", "ANALYST, ACCOUNTADMIN", "ACCOUNTADMIN", "PUBLIC", "information_schema",
]
LONG = st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "é", "'", "\"", "x ", "😀", "A_"]), st.integers(200, 3000))
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), LONG)
IDENT = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,24}", fullmatch=True).filter(lambda s: "__" not in s)
SENTENCE = st.sampled_from([
    "Joins the pricing team on Monday.", "Needed for the quarter's close: 'revenue' \"recognition\".",
    "Line one\nline two: - item # not a comment", "Für die Preisanalyse 日本 😀 needed now.",
    "'; DROP TABLE USERS; -- a reason that is long enough",
])


def _pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@functools.lru_cache(maxsize=1)
def keys() -> list[str]:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    body = "".join(_pem(other).splitlines()[1:-1])
    private = good.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    return [_pem(good), body, private, _pem(small), _pem(ec.generate_private_key(ec.SECP256R1())), "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"]


_FOLDER = tempfile.TemporaryDirectory(prefix="snowtower-props-")  # removed with this module's process


@functools.lru_cache(maxsize=1)
def base() -> Snapshot:
    """The example config, plus one user halfway through a key rotation (so promote-key has work)."""
    root = Path(tempfile.mkdtemp(dir=_FOLDER.name)) / "config"
    shutil.copytree(EXAMPLE, root)
    users = root / "user.yaml"
    text = users.read_text()
    body = "".join(keys()[0].splitlines()[1:-1])
    users.write_text(text.replace("  comment: Senior Data Engineer\n", f"  comment: Senior Data Engineer\n  rsa_public_key_2: {body}\n", 1))
    snap = Snapshot(root, None, load_config(root))
    assert snap.config.validation.valid
    return snap


FREE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("C",)), min_size=1, max_size=60).filter(str.strip)
VALID_JUSTIFICATION = st.one_of(SENTENCE, st.text(alphabet=st.characters(blacklist_categories=("C",)), min_size=12, max_size=200)
                                .filter(lambda s: len(s.strip()) >= 10))


def _users(snap, rel="user.yaml"):
    from recipes.common import entries_of

    return entries_of(snap, rel)


@st.composite
def valid_value(draw, recipe, field, snap: Snapshot, raw: dict):
    """A value the recipe should accept (given the fields drawn before it), nasty but legal where text is free."""
    today = dt.date.today()
    options = choices_for(field, snap)
    name = raw.get("name")
    users = _users(snap)
    if field.name == "name":
        if field.kind == "select":
            pool = options
            if recipe.name == "promote-key":
                pool = [u for u, e in users.items() if e.get("rsa_public_key_2")]
            elif recipe.name in ("rotate-key",):
                pool = [u for u, e in users.items() if not e.get("rsa_public_key_2")]
            elif recipe.name in ("grant-role", "revoke-role", "offboard-user"):
                pool = [u for u, e in users.items() if e.get("business_roles") and not e.get("disabled")]
            return draw(st.sampled_from(pool).map(lambda v: draw(st.sampled_from([v, v.lower()]))))
        return draw(IDENT)
    if field.kind == "key":
        return draw(st.sampled_from(keys()[1:2] if recipe.name == "rotate-key" else keys()[:2]))
    if field.name == "business_roles" and recipe.name in ("grant-role", "revoke-role"):
        has = [str(r).upper() for r in (users.get(str(name).upper()) or {}).get("business_roles") or []]
        pool = has if recipe.name == "revoke-role" else [r for r in options if r not in has]
        return draw(st.lists(st.sampled_from(pool), min_size=1, max_size=min(3, len(pool)), unique=True))
    if field.kind == "multiselect" or field.is_list:
        if not options:
            return draw(st.lists(IDENT, min_size=1, max_size=3, unique_by=str.upper))
        return draw(st.lists(st.sampled_from(options), min_size=0 if not field.required else 1, max_size=3, unique=True))
    if field.kind == "select":
        return draw(st.sampled_from(options + [SIZE_LABELS[o] for o in options if o in SIZE_LABELS]))
    if field.kind == "date":
        return (today + dt.timedelta(days=draw(st.integers(1, 1000)))).isoformat()
    if field.kind == "int":
        ranges = {"auto_suspend": (60, 86400), "retention_time": (0, 90), "credit_quota": (1, 5000),
                  "min_cluster_count": (1, 2), "max_cluster_count": (2, 4)}
        lo, hi = ranges.get(field.name, (1, 10))
        return draw(st.one_of(st.integers(lo, hi), st.integers(lo, hi).map(str)))
    if field.kind == "bool":
        return draw(st.booleans())
    if field.name == "justification":
        return draw(VALID_JUSTIFICATION)
    if field.name == "email":
        return draw(IDENT) + "@cascaderidge.example"
    return draw(FREE_TEXT)


def hostile_value(field):
    if field.kind == "key":
        return st.one_of(st.sampled_from(keys()[2:]), TEXT)
    if field.is_list or field.kind == "multiselect":
        return st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=3))
    if field.kind == "int":
        return st.one_of(st.integers(-10**9, 10**12), TEXT)
    return TEXT


@st.composite
def raw_requests(draw, recipe, snap: Snapshot):
    raw: dict = {}
    for f in recipe.fields:
        if not f.required and draw(st.integers(0, 3)) == 0:
            continue  # optional fields are left out now and then
        raw[f.name] = draw(valid_value(recipe, f, snap, raw))
    if raw.get("type") == "SERVICE":
        for k in ("first_name", "last_name", "email"):
            raw.pop(k, None)
    if raw.get("credit_quota") is not None and not raw.get("size"):
        raw.pop("credit_quota")
    mutations = draw(st.integers(0, 2))  # about a third stay valid, the rest get one or two hostile fields
    for _ in range(mutations):
        f = draw(st.sampled_from(recipe.fields))
        if draw(st.integers(0, 9)) == 0:
            raw[draw(st.sampled_from(["password", "owner", "login_name", "x"]))] = draw(TEXT)
        else:
            raw[f.name] = draw(hostile_value(f))
    return raw


def _entry_texts(text: str | None) -> tuple[str, dict[str, str]]:
    if not text:
        return "", {}
    lines = text.splitlines(keepends=True)
    found = entries(text)
    head = "".join(lines[: found[0].start]) if found else text
    return head, {e.key.upper(): "".join(lines[e.start : e.end]) for e in found}


def allowed_keys(request) -> set[str]:
    keys_ = {str(getattr(request, "name", "")).upper()}
    for attr in ("warehouse", "monitor"):
        if getattr(request, attr, None):
            keys_.add(getattr(request, attr))
    if hasattr(request, "role"):
        keys_ |= {request.role(k) for k in getattr(request, "business_roles", ())}
    return keys_


_VERDICTS: dict[int, bool] = {}


@functools.lru_cache(maxsize=1)
def scratch() -> Path:
    """One copy of the base config that each check writes its files into and then restores."""
    root = Path(tempfile.mkdtemp(dir=_FOLDER.name)) / "config"
    shutil.copytree(base().root, root)
    return root


def valid_with(files: dict) -> bool:
    """SnowDDL's verdict on base + files (as validate_with_changes gives it, without copying the whole
    config each time), remembered per content: shrinking and mutation revisit the same change."""
    key = hash(tuple(sorted(files.items(), key=lambda kv: kv[0])))
    if key in _VERDICTS:
        return _VERDICTS[key]
    root, snap = scratch(), base()
    created: list[Path] = []
    try:
        for rel, text in files.items():
            target = root / rel
            for parent in reversed(target.relative_to(root).parents[:-1]):
                if not (root / parent).exists():
                    created.append(root / parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            if text is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(text, encoding="utf-8")
        _VERDICTS[key] = load_config(root).validation.valid
    finally:
        for rel in files:
            original = snap.text(rel)
            if original is None:
                (root / rel).unlink(missing_ok=True)
            else:
                (root / rel).write_text(original, encoding="utf-8")
        for folder in sorted(created, key=lambda p: len(p.parts), reverse=True):
            shutil.rmtree(folder, ignore_errors=True)
    return _VERDICTS[key]


def check(recipe, raw: dict) -> None:
    snap = base()
    try:
        request = recipe.parse(raw, snap)
    except FieldErrors as exc:
        assert exc.errors and all(e.field and e.message for e in exc.errors)
        for e in exc.errors:  # messages never echo a key back
            assert "PRIVATE KEY" not in e.message and "MIIB" not in e.message
        return
    changes = recipe.build(snap, request)
    name = str(request.name)
    assert changes.files, "a valid request changes something"
    for rel, text in changes.files.items():
        assert recipe.may_touch(rel, name), f"{recipe.name} touched {rel}, which it does not declare"
        assert text is None or isinstance(yaml.load(text, Loader=FAST_LOADER), (dict, type(None)))
        if snap.text(rel) is None:
            continue  # a new file (a database's params.yaml): nothing to keep
        head_before, before = _entry_texts(snap.text(rel))
        head_after, after = _entry_texts(text)
        assert head_after == head_before, f"{rel}: the text before the first entry changed"
        assert [k for k in after if k in before] == list(before), f"{rel}: entries were lost or reordered"
        changed = {k for k in before if before[k] != after[k]} | (set(after) - set(before))
        assert changed <= allowed_keys(request), f"{rel}: unrelated entries changed: {changed - allowed_keys(request)}"
    assert valid_with(changes.files), [p.message for p in validate_with_changes(snap, changes.files).validation.errors]
    again = recipe.parse(recipe.to_dict(request), snap)  # what a merge re-applies is the same request
    assert recipe.build(snap, again).files == changes.files


@pytest.mark.parametrize("recipe_name", sorted(RECIPES))
def test_generated_requests_are_refused_or_valid_and_minimal(recipe_name):
    recipe = RECIPES[recipe_name]

    @SETTINGS
    @given(raw_requests(recipe, base()))
    def run(raw):
        check(recipe, raw)

    run()


def test_the_scratch_verdict_is_snowddls_and_leaves_the_scratch_as_it_was():
    snap = base()
    bad = {"user.yaml": snap.text("user.yaml") + "\nGHOST:\n  business_roles:\n    - NOBODY\n",
           "NEWDB/S/params.yaml": "comment: x\n"}
    assert valid_with(bad) is validate_with_changes(snap, bad).validation.valid is False
    assert not (scratch() / "NEWDB").exists()
    assert (scratch() / "user.yaml").read_text() == snap.text("user.yaml")
    assert load_config(scratch()).validation.valid
