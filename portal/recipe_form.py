"""One form for every recipe: fields drawn from the recipe's declaration, pickers filled from the current
configuration, errors next to their fields, a preview before anything is written, then submit (or
resubmit, when the requester edits a request a reviewer sent back).

A recipe whose page is its form alone has no script in pages/: its page (portal.ui.page) runs
`recipe_form_page(key)`, drawn from what the recipe declares (intro, fields drawn above the form, hidden
fields, placeholders). Pages that add to the form call `recipe_page(...)` with what is particular to them.
The state of a page lives in st.session_state under its own prefix (e.g. "grant_role.").
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import streamlit as st

from core.changes.base import ChangeError, DuplicateRequest
from core.keys import PRIVATE_KEY_MESSAGE, generate_key_pair
from core.plaintext import md_escape
from portal import account, errors, ui, widgets
from app.operations import PreviewRequest, ResubmitRequest, SubmitRequest
from recipes import RECIPES, FieldErrors
from recipes.base import Field, Recipe
from recipes.common import SIZE_LABELS, choices_for, role_labels, user_labels

PENDING_KEY = "snowtower.resubmit"  # {"recipe", "id", "raw", "comment"} handed over by My requests


def start_resubmit(cr, comment: str = "") -> None:
    """Open the recipe's page with the request's fields filled in, to edit and resubmit it."""
    recipe = RECIPES[cr.recipe]
    raw = recipe.form_values(ui.services().snapshot(), dict(cr.request)) if recipe.form_values else dict(cr.request)
    st.session_state[PENDING_KEY] = {"recipe": cr.recipe, "id": cr.id, "ref": cr.ref, "raw": raw, "comment": comment}
    st.switch_page(ui.page(recipe.page))


def start_fix(finding) -> None:
    """Open the recipe that fixes a finding (core.findings.Finding with a fix), its fields filled in and,
    when nothing is left to fill, previewed: one more click submits it for review."""
    fix = finding.fix
    st.session_state[PENDING_KEY] = {"recipe": fix.recipe, "id": None, "ref": None, "raw": dict(fix.fields),
                                     "comment": "", "fixes": finding.title, "preview": fix.complete}
    st.switch_page(ui.page(RECIPES[fix.recipe].page))


def start_renew(raw: dict, note: str) -> None:
    """Open the grant form filled in for a renewal (app.ending_soon.Ending.renewal): a new request."""
    st.session_state[PENDING_KEY] = {"recipe": "grant-role", "id": None, "ref": None, "raw": dict(raw), "comment": "",
                                     "note": note}
    st.switch_page(ui.page(RECIPES["grant-role"].page))


# The choices of a time-bound grant's length ("How long"): none is preselected, so nothing becomes permanent
# unless "Permanent" is chosen. Days count from today in UTC, as the recipe and the expiry job count them.
UNTIL_DAYS = {"7 days": 7, "30 days": 30, "90 days": 90}
UNTIL_DATE, UNTIL_PERMANENT = "A date", "Permanent"
UNTIL_CHOICES = [*UNTIL_DAYS, UNTIL_DATE, UNTIL_PERMANENT]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def until_value(choice: str | None, typed: str | None, picked: dt.date | None, today: dt.date | None = None) -> str:
    """What the form sends as a grant's until: YYYY-MM-DD, "permanent", or "" when nothing was chosen (the
    recipe refuses "": no default means permanent). A typed date wins over a picked one: it is what the
    viewer wrote last, and the recipe parses it (never the date picker's guess at a half-typed year)."""
    today = today or utc_today()
    if choice in UNTIL_DAYS:
        return (today + dt.timedelta(days=UNTIL_DAYS[choice])).isoformat()
    if choice == UNTIL_PERMANENT:
        return "permanent"
    if choice == UNTIL_DATE:
        if (typed or "").strip():
            return typed.strip()
        return picked.isoformat() if picked else ""
    return ""


def example(text: str | None) -> str:
    """A placeholder worded as an example ("e.g. 50"), so it never looks like a filled-in value."""
    text = (text or "").strip()
    if not text or text.lower().startswith(("e.g.", "optional", "example", "for example")):
        return text
    return f"e.g. {text}"


def _fmt(field: Field, changes_existing: bool) -> Callable:
    empty = "(unchanged)" if changes_existing else "(none)"
    if field.choices == "sizes":
        return lambda v: f"{SIZE_LABELS[v]} ({v})" if v in SIZE_LABELS else (v or empty)
    return lambda v: v or empty


class RecipeForm:
    def __init__(self, recipe: Recipe, prefix: str, *, outside: tuple[str, ...] | None = None,
                 hidden: Callable[[dict], set[str]] | None = None, placeholders: dict[str, str] | None = None):
        self.recipe = recipe
        self.K = prefix
        # fields drawn above the form, so the form can react to them (the recipe's, unless the page says)
        self.outside = recipe.outside if outside is None else outside
        self.hidden = hidden or recipe.hidden or (lambda state: set())
        self.placeholders = {**{f.name: f.placeholder for f in recipe.fields if f.placeholder}, **(placeholders or {})}
        self.services, self.actor = ui.services(), ui.viewer()
        self.snapshot = self.services.snapshot()
        self._take_pending()
        for f in recipe.fields:  # real defaults start in the field as values, not as grey examples
            if f.default is not None and self._key(f.name) not in st.session_state:
                self._set(f, f.default)

    # -- state -------------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return self.K + name

    def _take_pending(self) -> None:
        pending = st.session_state.get(PENDING_KEY)
        if not pending or pending["recipe"] != self.recipe.name:
            return
        st.session_state.pop(PENDING_KEY)
        for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(self.K)]:
            del st.session_state[key]
        for f in self.recipe.fields:
            self._set(f, pending["raw"].get(f.name))
        if pending.get("id") is None:  # a finding's fix: a new request, previewed when complete
            st.session_state[self._key("fixes")] = pending.get("fixes")
            st.session_state[self._key("note")] = pending.get("note")
            if pending.get("preview"):
                self.on_preview()
            return
        until = self.recipe.field("until")
        if until is not None and until.kind == "until" and pending["raw"].get("until") in (None, ""):
            st.session_state[self._key("until")] = UNTIL_PERMANENT  # a stored request without an end date chose it
        st.session_state[self._key("resubmit")] = {"id": pending["id"], "ref": pending["ref"], "comment": pending["comment"]}

    def _set(self, f: Field, value) -> None:
        key = self._key(f.name)
        if f.kind == "multiselect":
            st.session_state[key] = [str(v) for v in (value or [])]
        elif f.kind == "date":
            st.session_state[key] = dt.date.fromisoformat(value) if value else None
        elif f.kind == "until":  # a stored date is shown as typed text (it may lie outside the picker's range)
            value = str(value).strip() if value not in (None, "") else None
            permanent = value is not None and value.casefold() == "permanent"
            st.session_state[key] = None if value is None else UNTIL_PERMANENT if permanent else UNTIL_DATE
            st.session_state[key + ".typed"] = "" if value is None or permanent else value
            st.session_state[key + ".picked"] = None
        elif f.kind == "bool":
            st.session_state[key] = bool(value)
        elif f.kind == "select":
            st.session_state[key] = str(value) if value not in (None, "") else (None if f.required else "")
        else:
            st.session_state[key] = "" if value is None else str(value)

    @errors.guarded_callback
    def load_current(self) -> None:
        """on_change of the target picker: start the form from the object's current values."""
        name = st.session_state.get(self._key("name"))
        if name and self.recipe.current:
            for fname, value in self.recipe.current(self.snapshot, name).items():
                f = self.recipe.field(fname)
                if f:
                    self._set(f, value)
        st.session_state.pop(self._key("preview"), None)

    def visible(self) -> list[Field]:
        state = {f.name: st.session_state.get(self._key(f.name)) for f in self.recipe.fields}
        hide = self.hidden(state) | {f.name for f in self.recipe.fields if f.filled_only and state.get(f.name) in (None, "")}
        return [f for f in self.recipe.fields if f.name not in hide]

    def raw(self) -> dict:
        out: dict = {}
        for f in self.visible():
            value = st.session_state.get(self._key(f.name))
            if f.kind == "date":
                value = value.isoformat() if value else None
            elif f.kind == "until":
                value = until_value(value, st.session_state.get(self._key(f.name) + ".typed"),
                                    st.session_state.get(self._key(f.name) + ".picked"))
            elif f.kind == "select" and value in ("", None):
                value = None
            elif f.kind == "bool":
                value = bool(value)
            elif f.kind == "multiselect":
                value = list(value or [])
            if value is None:
                continue
            out[f.name] = value
        return out

    # -- callbacks ---------------------------------------------------------------------------------
    @errors.guarded_callback
    def on_preview(self) -> None:
        st.session_state.pop(self._key("submitted"), None)
        st.session_state.pop(self._key("duplicate"), None)
        raw = self.raw()
        preview = PreviewRequest(self.services, self.recipe, raw, cost=True, source=account.source).execute()
        for f in self.recipe.fields:
            if f.kind in ("key", "text", "textarea", "int") and preview.field_errors.get(f.name) == PRIVATE_KEY_MESSAGE:
                # A private key was pasted (in any field): drop it from the form and from memory at once.
                st.session_state[self._key(f.name)] = ""
                raw.pop(f.name, None)
        st.session_state[self._key("preview")] = preview
        st.session_state[self._key("raw")] = raw

    @errors.guarded_callback
    def on_submit(self, allow_duplicate: bool = False) -> None:
        st.session_state.pop(self._key("duplicate"), None)
        preview = st.session_state.get(self._key("preview"))
        resubmit = st.session_state.get(self._key("resubmit"))
        raw = st.session_state.get(self._key("raw")) or {}
        # Why: a callback runs before the entry script reads the roles again: act as the viewer is now.
        actor = ui.viewer_now()
        if actor is None:
            st.session_state[self._key("error")] = ui.NO_LONGER_ALLOWED
            return
        try:
            if resubmit:
                cr = ResubmitRequest(self.services, actor, resubmit["id"], raw).execute()
            else:
                cr = SubmitRequest(self.services, actor, self.recipe, raw, preview.base_sha,
                                   allow_duplicate=allow_duplicate).execute()
        except DuplicateRequest as exc:  # the open one, to follow instead (or submit anyway, on purpose)
            old = exc.existing
            st.session_state[self._key("duplicate")] = {"message": str(exc), "ref": old.ref, "url": old.url or "",
                                                        "mine": old.requester == actor.username}
        except FieldErrors as exc:
            st.session_state[self._key("error")] = "; ".join(str(e) for e in exc.errors)
        except ChangeError as exc:
            st.session_state[self._key("error")] = str(exc)
        else:
            st.session_state[self._key("submitted")] = f"{cr.ref} ({cr.title})" + (" again" if resubmit else "")
            for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(self.K) and k != self._key("submitted")]:
                del st.session_state[key]

    def on_cancel_resubmit(self) -> None:
        for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(self.K)]:
            del st.session_state[key]

    @errors.guarded_callback
    def on_generate(self, field_name: str) -> None:
        passphrase = st.session_state.get(self._key("passphrase")) or None
        pair = generate_key_pair(passphrase)
        st.session_state[self._key(field_name)] = pair.public_pem
        st.session_state[self._key("private_once")] = (pair.private_pem, bool(passphrase))
        st.session_state[self._key("passphrase")] = ""  # never kept after use

    # -- drawing -----------------------------------------------------------------------------------
    def field_error(self, name: str) -> None:
        preview = st.session_state.get(self._key("preview"))
        if preview and name in preview.field_errors:
            f = self.recipe.field(name)
            st.error(f"{f.label if f else name} {md_escape(preview.field_errors[name])}", icon=":material/error:")

    def labels(self, f: Field) -> Callable | None:
        """A picker's words for its options: users by full name, business roles with their description and
        what they grant (from the config); None for other pickers (their values are their words)."""
        if f.choices == "users":
            names = user_labels(self.snapshot)
        elif f.choices == "business_roles":
            names = role_labels(self.snapshot)
        else:
            return None
        return lambda v: names.get(str(v).upper(), v) if v else v

    def widget(self, f: Field) -> None:
        key = self._key(f.name)
        options = choices_for(f, self.snapshot)
        words = self.labels(f)
        if f.kind == "multiselect":
            current = [v for v in st.session_state.get(key) or [] if v not in options]
            # No "Select all": every role (or schema) at once is never what a request should ask for.
            st.multiselect(f.label, options + current, key=key, help=f.help or None, select_all=False,
                           **({"format_func": words} if words else {}))
            if f.choices == "business_roles" and words:
                # The picker's list draws each option on one line, cut off with an ellipsis where the window is
                # narrower than its words (a role's description and grants, at 390 px or even 1,400): here
                # each role's words wrap, whole. Config text: shown escaped, never as Markdown.
                with st.expander("What each role is for"):
                    st.markdown("\n".join(f"- {md_escape(words(v))}" for v in options))
        elif f.kind == "select":
            if f.name == "name" and self.recipe.current and "name" in self.outside:
                st.selectbox(f.label, options, key=key, index=None, placeholder="Choose ...", help=f.help or None,
                             on_change=self.load_current, **({"format_func": words} if words else {}))
            elif isinstance(f.choices, tuple) and len(options) <= 3:
                st.radio(f.label, options, key=key, horizontal=True, help=f.help or None)
            elif f.required:
                st.selectbox(f.label, options, key=key, index=None, placeholder="Choose ...", help=f.help or None,
                             format_func=words or _fmt(f, self.recipe.current is not None))
            else:
                st.selectbox(f.label, [""] + options, key=key, help=f.help or None, format_func=_fmt(f, self.recipe.current is not None))
        elif f.kind == "date":
            st.date_input(f.label, value=None, key=key, help=f.help or None,
                          min_value=dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1))  # UTC, as the recipe checks
        elif f.kind == "until":
            self.until_widget(f)
        elif f.kind == "bool":
            st.checkbox(f.label, key=key, help=f.help or None)
        elif f.kind in ("key", "textarea"):
            st.text_area(f.label, key=key, height=140 if f.kind == "key" else 90, help=f.help or None,
                         placeholder=example(self.placeholders.get(f.name)) or ("-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----"
                                                                                if f.kind == "key" else "Why is this needed?"))
        else:
            st.text_input(f.label, key=key, help=f.help or None, placeholder=example(self.placeholders.get(f.name)),
                          disabled=f.filled_only)
        self.field_error(f.name)

    def until_widget(self, f: Field) -> None:
        """How long a grant lasts: 7, 30 or 90 days, a date (typed or picked) or permanent, none chosen at
        first. Why a text field beside the picker: the picker's own text box parses every keystroke
        (2027/01/31 typed became 7013-02-02, then nothing: uber/baseweb#3230); typed text goes to the
        recipe, which reads it whole or refuses it."""
        key = self._key(f.name)
        st.radio(f.label, UNTIL_CHOICES, key=key, index=None, horizontal=True, help=f.help or None)
        typed, picked = st.columns(2)
        typed.text_input("End date, typed (for “A date”)", key=key + ".typed", placeholder="e.g. 2027-01-31",
                         max_chars=40, help="The last day the access is needed, YYYY-MM-DD.")
        picked.date_input("or picked", value=None, key=key + ".picked", format="YYYY-MM-DD",
                          min_value=utc_today() + dt.timedelta(days=1))  # UTC, as the recipe checks

    def key_generator(self, field_name: str) -> None:
        once = st.session_state.pop(self._key("private_once"), None)
        if once:
            private_pem, encrypted = once
            with st.container(border=True):
                st.warning("Download your **private key** now. It is offered this once and SnowTower keeps only "
                           "the public key (filled in below)." + (" It is encrypted with your passphrase." if encrypted else ""),
                           icon=":material/key:")
                st.download_button("Download private key (rsa_key.p8)", private_pem, file_name="rsa_key.p8",
                                   mime="application/x-pem-file", on_click="ignore", type="primary", key=self._key("download"))
            del private_pem, once  # the page keeps no reference: the next run forgets it
        with st.expander("No key pair yet? Generate one in your browser session"):
            st.caption("Creates an RSA 2048 key pair, offers the private key once as a download (PKCS#8, encrypted "
                       "with a passphrase if you give one) and keeps only the public key. Nothing is written to disk, "
                       "the request or a log.")
            st.text_input("Passphrase (optional)", type="password", key=self._key("passphrase"))
            st.button("Generate a key pair for me", key=self._key("generate"), on_click=self.on_generate, args=(field_name,))

    def render(self, intro: str, extra: Callable[["RecipeForm"], None] | None = None) -> None:
        st.title(self.recipe.title)
        st.caption(intro)
        resubmit = st.session_state.get(self._key("resubmit"))
        if resubmit:
            st.info(f"Editing **{resubmit['ref']}**, sent back by a reviewer. Resubmitting updates the same branch "
                    "and asks for a fresh review.", icon=":material/edit:")
            if resubmit.get("comment"):
                st.text(f"The reviewer's comment: {resubmit['comment']}")  # as typed: never Markdown or HTML
            st.button("Stop editing", key=self._key("cancel"), on_click=self.on_cancel_resubmit)
        fixes = st.session_state.get(self._key("fixes"))
        if fixes and not st.session_state.get(self._key("submitted")):
            st.info(f"Fixes finding {md_escape(fixes)}. Check the preview, then submit it for review.", icon=":material/healing:")
        note = st.session_state.get(self._key("note"))
        if note and not st.session_state.get(self._key("submitted")):
            st.info(note, icon=":material/update:")  # the portal's own words (start_renew)
        submitted = st.session_state.get(self._key("submitted"))
        if submitted:
            st.success(f"Submitted as {md_escape(submitted)}. Follow it under My requests.", icon=":material/task_alt:")
            st.page_link(ui.page("my_requests"), label="My requests", icon=":material/list_alt:")
        fields = self.visible()
        for f in fields:
            if f.name in self.outside:
                self.widget(f)
        if extra:
            extra(self)
        for f in fields:
            if f.kind == "key":
                self.key_generator(f.name)
        with st.form(self.K + "form", border=True):
            for f in fields:
                if f.name not in self.outside:
                    self.widget(f)
            st.form_submit_button("Preview", type="primary", on_click=self.on_preview)
        preview = st.session_state.get(self._key("preview"))
        if preview and not submitted:
            if preview.field_errors:
                st.error(f"Fix the {len(preview.field_errors)} field(s) marked above; nothing was written.")
            else:
                widgets.preview_panel(preview)
                if preview.ok:
                    account.show_cost(preview.cost, preview.cost_note, preview.currency)
                if preview.ok:
                    st.button("Resubmit request" if resubmit else "Submit request", type="primary",
                              key=self._key("submit"), on_click=self.on_submit)
        duplicate = st.session_state.get(self._key("duplicate"))
        if duplicate and preview and not submitted:
            self.duplicate_warning(duplicate)
        error = st.session_state.pop(self._key("error"), None)
        if error:
            st.error(md_escape(error, starts_line=True), icon=":material/error:")

    def duplicate_warning(self, duplicate: dict) -> None:
        """An open request asks for the same change: where to follow it, and a way to submit anyway."""
        with st.container(border=True):
            st.warning(md_escape(duplicate["message"], starts_line=True), icon=":material/content_copy:")
            if duplicate["mine"]:
                st.page_link(ui.page("my_requests"), label=f"Follow {duplicate['ref']} under My requests",
                             icon=":material/list_alt:")
            elif self.actor.can("approver"):
                st.page_link(ui.page("review"), label=f"See {duplicate['ref']} in the review queue",
                             icon=":material/fact_check:")
            if duplicate["url"]:
                st.link_button(f"Open the pull request of {duplicate['ref']}", duplicate["url"], icon=":material/open_in_new:")
            st.button("Submit anyway", key=self._key("submit_anyway"), on_click=self.on_submit, args=(True,))


def recipe_page(recipe_name: str, prefix: str, intro: str, **kwargs) -> RecipeForm:
    extra = kwargs.pop("extra", None)
    form = RecipeForm(RECIPES[recipe_name], prefix, **kwargs)
    form.render(intro, extra)
    return form


def recipe_form_page(key: str) -> RecipeForm:
    """The page `key` of portal.ui.PAGES that has no script (a PageRecord without a file): the form of the
    recipe whose page it is, as the recipe declares it; its state under the prefix "<key>."."""
    # Why: a page checks its record's role itself (ui.require_page), as every page with a script does: the
    # navigation is not the guard, and a generated page is a page too.
    ui.require_page(key)
    recipe = next(r for r in RECIPES.values() if r.page == key)
    return recipe_page(recipe.name, f"{key}.", recipe.intro)
