"""Field-level checks shared by every recipe: identifiers, emails, free text.

Each check returns the cleaned value or raises FieldError naming the field, so a form and the CLI
show the same message and nothing is written.
"""
from __future__ import annotations

import re
import unicodedata


class FieldError(ValueError):
    """A value a user typed that cannot be used. `field` names the input, `message` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# SnowDDL writes names as unquoted Snowflake identifiers and joins generated role names with "__"
# (e.g. ANALYST__B_ROLE), so a name must be a plain identifier without a double underscore.
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
IDENT_MAX = 255


def identifier(field: str, value: object) -> str:
    """An unquoted Snowflake identifier, returned upper-cased as SnowDDL stores it."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise FieldError(field, "is required.")
    if len(text) > IDENT_MAX:
        raise FieldError(field, f"is longer than {IDENT_MAX} characters.")
    if not _IDENT.fullmatch(text):
        raise FieldError(
            field,
            "may contain only letters A-Z, digits and underscores, and must not start with a digit "
            "(no spaces, quotes, dots or other symbols).",
        )
    if "__" in text:
        raise FieldError(field, "must not contain a double underscore: SnowDDL uses '__' to build role names.")
    return text.upper()


def email(field: str, value: object, required: bool = True) -> str | None:
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise FieldError(field, "is required.")
        return None
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise FieldError(field, "is not a valid email address (expected name@company.com).")
    _no_placeholder(field, text)
    return text.lower()


def _no_placeholder(field: str, text: str) -> None:
    """Text a request writes into the config is data, never a reference: SnowDDL replaces every
    `${{ name }}` in a config value with that placeholder's value (per environment, possibly secret),
    which would then be deployed and shown in the preview's plan."""
    if "${{" in text:
        raise FieldError(field, "must not contain '${{': SnowDDL would read it as a placeholder of the configuration.")


def free_text(field: str, value: object, *, required: bool = False, max_len: int = 200) -> str | None:
    """One line of human text (a name, a comment): any letters, no control characters."""
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            raise FieldError(field, "is required.")
        return None
    if len(text) > max_len:
        raise FieldError(field, f"is longer than {max_len} characters.")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise FieldError(field, "must be a single line without control characters.")
    _no_placeholder(field, text)
    return text


def justification(value: object) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) < 10:
        raise FieldError("justification", "is required: say in a sentence why this is needed (10 characters or more).")
    if len(text) > 2000:
        raise FieldError("justification", "is longer than 2000 characters.")
    if any(unicodedata.category(ch).startswith("C") and ch not in "\n\t" for ch in text):
        raise FieldError("justification", "must not contain control characters.")
    return text
