"""Helpers every recipe shares: reading entries of the base config, list fields, pickers, users' access
(the user file and the expiry file of time-bound grants)."""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Collection

from core import expiry, fields
from core.fields import FieldError
from core.snowddl import yaml_reader
from core.snowddl.edit import EditError
from core.snowddl.commit_snapshot import Snapshot
from core.snowflake.projection import CREDITS_PER_HOUR  # noqa: F401  (re-exported: the recipes' size choices)
from recipes.base import Collector, Field, FieldErrors, form

SIZE_LABELS = {
    "XSMALL": "X-Small", "SMALL": "Small", "MEDIUM": "Medium", "LARGE": "Large", "XLARGE": "X-Large",
    "XXLARGE": "2X-Large", "XXXLARGE": "3X-Large", "X4LARGE": "4X-Large", "X5LARGE": "5X-Large", "X6LARGE": "6X-Large",
}
_SIZE_ALIASES = {re.sub(r"[^A-Z0-9]", "", v.upper()): k for k, v in SIZE_LABELS.items()} | {
    "2XLARGE": "XXLARGE", "3XLARGE": "XXXLARGE", "4XLARGE": "X4LARGE", "5XLARGE": "X5LARGE", "6XLARGE": "X6LARGE",
}

# Shared request fields (recipes.base.form): `justification: str = JUSTIFICATION` on a request type.
JUSTIFICATION = form("Justification", "Why this is needed; reviewers read it.", required=True, kind="textarea")


# Every list field is capped before any of its items is looked at: work stays bounded whatever is sent.
MAX_LIST_ITEMS = 200
MAX_LIST_CHARS = 20_000


def entries_of(base: Snapshot, rel: str) -> dict[str, dict]:
    """The entries of a one-object-per-key file, keys upper-cased (read-only). As in SnowDDL, the last
    copy of a key defined twice is the one that counts."""
    text = base.text(rel)
    if not text:
        return {}
    try:
        data = yaml_reader.load(text)
    except yaml_reader.ReadError as exc:
        raise FieldErrors([FieldError("name", f"the configuration file cannot be read: {exc}")]) from None
    return {str(k).upper(): (v if isinstance(v, dict) else {}) for k, v in data.items()}


def entry(base: Snapshot, rel: str, name: str) -> dict | None:
    """One entry (the last copy, as SnowDDL reads it), parsing only its lines when the file allows."""
    text = base.text(rel)
    if not text:
        return None
    try:
        found = yaml_reader.load_entry(text, name)
    except yaml_reader.ReadError as exc:
        raise FieldErrors([FieldError("name", f"the configuration file cannot be read: {exc}")]) from None
    if found is None:
        return None
    return found[1] if isinstance(found[1], dict) else {}


def written(base: Snapshot, kind: str, name: str) -> str:
    """`name` as the config writes its key in the root file of `kind` ("ci" for CI): SnowDDL looks some
    things up by the name exactly as written (a business role's first warehouse becomes its users'
    default warehouse only when the role is named as in business_role.yaml)."""
    text = base.text(base.file(kind))
    if text:
        try:
            found = yaml_reader.load_entry(text, name)
        except yaml_reader.ReadError:
            found = None
        if found is not None:
            return found[0]
    return name


def new_key(base: Snapshot, kind: str, name: str) -> str:
    """The key for a new entry in the root file of `kind`: lower-case when every key the file has is
    lower-case (SnowDDL's own docs and tests write names so), else as given."""
    text = base.text(base.file(kind))
    if text:
        try:
            keys = [k for k in yaml_reader.top_keys(text) if k.lower() != k.upper()]
        except yaml_reader.ReadError:
            keys = []
        if keys and all(k == k.lower() for k in keys):
            return name.lower()
    return name


def list_key(value: dict, key: str) -> str:
    """The spelling of `key` an entry uses (technical_roles or the old tech_roles); `key` if neither."""
    return next((k for k in yaml_reader.KEY_ALIASES.get(key, (key,)) if k in value), key)


def edit(field_name: str, rel: str, fn, *args) -> str:
    """Runs one edit of core.snowddl.edit; a refusal becomes a message on `field_name` (FieldErrors)."""
    try:
        return fn(*args)
    except (EditError, yaml_reader.ReadError) as exc:
        raise FieldErrors([FieldError(field_name, f"{rel}: {exc}")]) from None


def duplicate_note(base: Snapshot, rel: str, name: str) -> str:
    """A sentence for a change's summary when `name` is defined more than once in `rel`."""
    text = base.text(rel)
    if not text or text.count(name) < 2 and text.upper().count(name.upper()) < 2:
        return ""
    dups = [d for d in yaml_reader.duplicate_keys(text) if d.key.upper() == name.upper()]
    if not dups:
        return ""
    lines = ", ".join(str(n) for n in dups[0].lines)
    return (f" Note: {name} is defined {len(dups[0].lines)} times in {rel} (lines {lines}); SnowDDL uses the last copy, "
            f"which is the one changed here.")


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value).strip()] if str(value).strip() else []


def bounded_list(c: Collector, field_name: str, value: Any, limit: int = MAX_LIST_ITEMS) -> list[str]:
    """as_list, refused with a message (and []) when it is longer than `limit` items or
    MAX_LIST_CHARS characters, before any item is checked."""
    if isinstance(value, str):
        too_long = len(value) > MAX_LIST_CHARS
    else:
        too_long = isinstance(value, (list, tuple, set)) and len(value) > limit
    items = [] if too_long else as_list(value)
    if too_long or len(items) > limit:
        c.add(field_name, f"is too long: at most {limit} items per request.")
        return []
    return items


def refuse_unknown(c: Collector, raw: dict, field_list: tuple[Field, ...]) -> None:
    known = {f.name for f in field_list}
    for extra in sorted(set(raw) - known, key=str):
        c.add(str(extra), "is not a field of this request.")


# The root file each picker's objects come from, by the words its messages use.
_FILE_KIND = {"a user": "user", "a business role": "business_role", "a technical role": "technical_role",
              "a warehouse": "warehouse", "a resource monitor": "resource_monitor"}


def existing(c: Collector, field_name: str, value: Any, known: Collection[str], what: str,
             base: Snapshot | None = None) -> str | None:
    """An identifier that must name an existing object. With `base`, a name that is written in its
    file but that SnowDDL could not read (the file or the entry failed to parse) is refused with its error."""
    name = c.check(fields.identifier, field_name, value)
    if name and name not in (known if isinstance(known, (set, frozenset)) else _as_set(known)):
        unread = _unread(base, _FILE_KIND.get(what), name) if base is not None else None
        c.add(field_name, unread or f"{name} is not {what} of this configuration.")
        return None
    return name


def _unread(base: Snapshot, kind: str | None, name: str) -> str | None:
    """Why SnowDDL does not see `name` although its file defines it ("user.yaml:1: Cannot decrypt ..."):
    the error of the whole file or of that entry; None when the file does not define it or reads fine."""
    if kind is None:
        return None
    rel = base.file(kind)
    errors = [e for e in base.config.validation.errors if e.file == rel and e.object in (None, name)]
    if not errors or not base.text(rel):
        return None
    try:
        if yaml_reader.load_entry(base.text(rel), name) is None:
            return None
    except yaml_reader.ReadError:
        pass  # the tolerant reader fails too: SnowDDL's error says why
    e = errors[0]
    return f"{name} is in {rel}, but SnowDDL cannot read it ({rel}:{e.line or 1}: {e.message}); fix the file first."


def _as_set(known) -> frozenset:
    """A set of a config's names, built once per list object (configs hold thousands of names)."""
    key = id(known)
    hit = _SETS.get(key)
    if hit is None or hit[0] is not known:
        hit = _SETS[key] = (known, frozenset(known))
        if len(_SETS) > 64:
            _SETS.pop(next(iter(_SETS)))
    return hit[1]


_SETS: dict[int, tuple[object, frozenset]] = {}


def new_name(c: Collector, field_name: str, value: Any, taken: list[str], what: str, max_len: int = 200) -> str | None:
    name = c.check(fields.identifier, field_name, value)
    if name and len(name) > max_len:
        c.add(field_name, f"is longer than {max_len} characters.")
        return None
    if name and name in _as_set(taken):
        c.add(field_name, f"{what} {name} already exists.")
        return None
    return name


def names(c: Collector, field_name: str, value: Any, known: list[str], what: str,
          base: Snapshot | None = None) -> list[str]:
    """A list of identifiers naming existing objects, deduplicated, in the order given."""
    out: dict[str, None] = {}
    known_set = _as_set(known)
    for item in bounded_list(c, field_name, value):
        name = existing(c, field_name, item, known_set, what, base)
        if name:
            out[name] = None
    return list(out)


def schema_patterns(c: Collector, field_name: str, value: Any, base: Snapshot) -> list[str]:
    """DB.SCHEMA or DB.* names of this configuration, as business roles' schema_* keys take them."""
    out: list[str] = []
    dbs, schemas = _as_set(base.config.databases), _as_set(base.config.schemas)
    for item in bounded_list(c, field_name, value):
        db, dot, schema = item.partition(".")
        if not dot:
            c.add(field_name, "takes DATABASE.SCHEMA or DATABASE.* (e.g. ANALYTICS.MARTS).")
            continue
        d = c.check(fields.identifier, field_name, db)
        s = "*" if schema.strip() == "*" else c.check(fields.identifier, field_name, schema)
        if not d or not s:
            continue
        if d not in dbs:
            c.add(field_name, f"{d} is not a database of this configuration.")
        elif s != "*" and f"{d}.{s}" not in schemas:
            c.add(field_name, f"{d}.{s} is not a schema of this configuration.")
        elif f"{d}.{s}" not in out:
            out.append(f"{d}.{s}")
    return out


def size(c: Collector, field_name: str, value: Any, required: bool = True) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            c.add(field_name, "is required: pick a warehouse size.")
        return None
    key = re.sub(r"[^A-Z0-9]", "", text.upper())
    found = key if key in CREDITS_PER_HOUR else _SIZE_ALIASES.get(key)
    if not found:
        c.add(field_name, "must be one of " + ", ".join(SIZE_LABELS.values()) + ".")
    return found


def integer(c: Collector, field_name: str, value: Any, lo: int, hi: int, required: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            c.add(field_name, "is required.")
        return None
    if isinstance(value, bool):
        c.add(field_name, "must be a whole number.")
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        c.add(field_name, "must be a whole number.")
        return None
    if not lo <= number <= hi:
        c.add(field_name, f"must be between {lo} and {hi}.")
        return None
    return number


def boolean(c: Collector, field_name: str, value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    c.add(field_name, "must be true or false.")
    return None


_TYPED_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")


def future_date(c: Collector, field_name: str, value: Any, today: _dt.date | None = None) -> _dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        value = value.date()
    day: _dt.date | None
    if isinstance(value, _dt.date):
        day = value
    else:
        # Typed by hand, a date comes as 2027-01-31 or 2027/01/31 (the date picker's own format): both are read,
        # anything else is refused (never guessed: a typed year must not become another year).
        text = str(value).strip()
        m = _TYPED_DATE.fullmatch(text)
        try:
            day = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
        except ValueError:
            day = None
        if day is None:
            c.add(field_name, f"must be a date written YYYY-MM-DD (e.g. 2027-01-31); {text[:40]!r} is none.")
            return None
    # Why UTC: the expiry job counts days in UTC (Services.clock); the server's own zone would shift the
    # boundary by up to 14 hours.
    today = today or _dt.datetime.now(_dt.timezone.utc).date()
    if day <= today:
        c.add(field_name, f"must be after today ({today.isoformat()}).")
        return None
    if day > today + _dt.timedelta(days=3 * 366):
        c.add(field_name, "must be within three years; ask for permanent access instead.")
        return None
    return day


def choices_for(field: Field, base: Snapshot) -> list[str]:
    """The options a form offers for a picker field, from the current configuration."""
    if isinstance(field.choices, tuple):
        return list(field.choices)
    cfg = base.config
    if field.choices == "schema_patterns":
        return sorted(cfg.schemas + [f"{d}.*" for d in cfg.databases])
    if field.choices == "sizes":
        return list(CREDITS_PER_HOUR)
    if field.choices:
        return list(getattr(cfg, field.choices))
    return []


def credits_note(size_name: str | None) -> str:
    if not size_name:
        return ""
    return f"{SIZE_LABELS[size_name]} ({CREDITS_PER_HOUR[size_name]} credit(s)/hour)"


LABEL_MAX = 180  # characters of a picker's option label


def _clip(text: str, limit: int = LABEL_MAX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def user_labels(base: Snapshot) -> dict[str, str]:
    """USER -> "Full Name (USER)" for pickers: display_name, else first and last name; a user with neither
    (a service user) is its name alone. From the user file as SnowDDL reads it (parsed once per text)."""
    try:
        users = yaml_reader.load(base.text(base.file("user")) or "")
    except yaml_reader.ReadError:
        return {}
    out = {}
    for key, entry in users.items():
        if not isinstance(entry, dict):
            continue
        name = entry.get("display_name") or " ".join(str(entry.get(k) or "") for k in ("first_name", "last_name")).strip()
        out[str(key).upper()] = f"{_clip(name, 60)} ({str(key).upper()})" if name else str(key).upper()
    return out


def role_labels(base: Snapshot) -> dict[str, str]:
    """BUSINESS_ROLE -> "NAME: its description (comment) · reads 2 schemas, writes 1, 3 technical roles,
    warehouse W" for pickers: what the config says the role is for and what it grants."""
    try:
        roles = yaml_reader.load(base.text(base.file("business_role")) or "")
    except yaml_reader.ReadError:
        return {}
    out = {}
    for key, entry in roles.items():
        if not isinstance(entry, dict):
            continue
        grants = []
        for field_name, word in (("schema_read", "reads"), ("schema_write", "writes"), ("schema_owner", "owns")):
            items = entry.get(field_name) or []
            if isinstance(items, list) and items:
                grants.append(f"{word} {', '.join(map(str, items))}" if len(items) <= 2 else f"{word} {len(items)} schemas")
        tech = entry.get("technical_roles") or []
        if isinstance(tech, list) and tech:
            grants.append(f"{len(tech)} technical role(s)")
        wh = entry.get("warehouse_usage") or []
        if isinstance(wh, list) and wh:
            grants.append(f"warehouse {', '.join(map(str, wh[:2]))}" + (" …" if len(wh) > 2 else ""))
        comment = _clip(entry.get("comment") or "", 70)
        text = str(key).upper() + (f": {comment}" if comment else "") + (f" · {'; '.join(grants)}" if grants else "")
        out[str(key).upper()] = _clip(text)
    return out


# -- users' access (grant-role, revoke-role, offboard-user, remove-password) -----------------------------

USER_FILE = "user.yaml"  # the usual name; the recipes edit whichever file SnowDDL reads (Snapshot.file("user"))


def existing_user(c: Collector, raw: dict, base: Snapshot) -> tuple[str | None, dict]:
    name = existing(c, "name", raw.get("name"), base.config.users, "a user", base)
    return name, (entry(base, base.file("user"), name) or {}) if name else {}


def roles_of(user: dict) -> list[str]:
    roles = user.get("business_roles") or []
    return [str(r).upper() for r in roles] if isinstance(roles, list) else []


def expiring_grants(base: Snapshot) -> dict[tuple[str, str], expiry.Grant]:
    """(USER, ROLE) -> its time-bound grant on `base` (file and legacy comments); {} if the file is unreadable
    (validation reports why)."""
    try:
        grants, _ = expiry.all_grants(base.text(expiry.EXPIRY_FILE), base.text(base.file("user")))
    except expiry.ExpiryError:
        return {}
    return {(g.user, g.role): g for g in grants}


def expiry_edit(base: Snapshot, field_name: str, **changes) -> dict[str, str | None]:
    """{EXPIRY_FILE: new text} when `changes` (core.expiry.with_changes) change it, else {}."""
    old = base.text(expiry.EXPIRY_FILE)
    try:
        new = expiry.with_changes(old, base.text(base.file("user")), **changes)
    except expiry.ExpiryError as exc:
        raise FieldErrors([FieldError(field_name, f"{exc}; fix it first")]) from None
    return {} if new == old else {expiry.EXPIRY_FILE: new}


# -- warehouses (new-warehouse, change-warehouse, remove-warehouse) ------------------------------------

WAREHOUSE_FILE = "warehouse.yaml"
MAX_AUTO_SUSPEND = 86400  # a day; 0 would never suspend, which the portal does not offer
SIZE_HELP = "Credits per hour per cluster: X-Small 1, Small 2, Medium 4, Large 8, X-Large 16, 2X-Large 32 ..."
SIZE_FIELD = form("Size", SIZE_HELP, required=True, kind="select", choices="sizes")  # `size: str = SIZE_FIELD`


def current_warehouse(base: Snapshot, name: str) -> dict:
    wh = entry(base, base.file("warehouse"), name) or {}
    return {"size": str(wh.get("size") or "").upper().replace("-", ""), "auto_suspend": wh.get("auto_suspend", 60),
            "resource_monitor": str(wh.get("resource_monitor") or "").upper() or None}
