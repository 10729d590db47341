"""The new-service-user recipe: a program's user (dbt, a loader, a BI tool), key pair only, never a password: new-user
with type SERVICE and no names or email."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.fields import FieldError
from core.snowddl.commit_snapshot import Snapshot
from recipes.base import Field, FieldErrors, Recipe
from recipes.new_user import NewUserRequest, build, parse

SERVICE_PLACEHOLDERS = {"name": "SVC_AIRBYTE", "comment": "Optional: which tool, which team"}


def service_fields(person_fields: tuple[Field, ...]) -> tuple[Field, ...]:
    """new-user's fields as a service user's form shows them: no type (always SERVICE), names or email; its own
    examples."""
    return tuple(replace(f, placeholder=SERVICE_PLACEHOLDERS.get(f.name, f.placeholder))
                 for f in person_fields if f.name not in ("type", "first_name", "last_name", "email"))


def parse_service(raw: dict[str, Any], base: Snapshot) -> NewUserRequest:
    """A SERVICE user: key pair only, never a password, no names or email."""
    raw = dict(raw)
    if str(raw.get("type") or "SERVICE").strip().upper() != "SERVICE":
        raise FieldErrors([FieldError("type", "is always SERVICE here; use new-user for a person.")])
    raw["type"] = "SERVICE"
    try:
        return parse(raw, base)
    except FieldErrors as exc:
        # Names, email and unknown keys are reported as parse() words them; drop "type" (ours, not theirs).
        raise FieldErrors([e for e in exc.errors if e.field != "type"] or exc.errors) from None


NEW_SERVICE_USER: Recipe[NewUserRequest] = Recipe(
    "new-service-user", "New service user", NewUserRequest, parse_service, build,
    description="A user for a program (dbt, a loader, a BI tool): key pair only, never a password", page="new_service_user", touches=("user.yaml",),
    intro="A user for a program (dbt, a loader, a BI tool): type SERVICE, RSA key pair only, never a password, no names or email.",
    tailor=service_fields,
)
