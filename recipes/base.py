"""What every recipe is: a typed request whose fields declare the form's (form, fields_of), a parser into it, and a
pure build."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar, cast

from core.fields import FieldError
from core.snowddl.commit_snapshot import Snapshot

R = TypeVar("R")
SOURCES = "_sources"  # raw[SOURCES]: {"<commit>:<file>": text or None}, filled by the application, never typed


class FieldErrors(ValueError):
    """Every field a request got wrong, so a form can mark them all at once."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors

    def by_field(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for e in self.errors:
            out.setdefault(e.field, e.message)
        return out


@dataclass(frozen=True)
class Field:
    name: str  # the SnowDDL key it fills, or name / justification
    label: str
    help: str = ""
    is_list: bool = False
    required: bool = False
    # How a form shows it: text | textarea | key | select | multiselect | date | bool | int
    kind: str = "text"
    # Where a picker's options come from: a list of the current config (users, business_roles,
    # warehouses, technical_roles, resource_monitors, databases, schemas, schema_patterns, sizes) or fixed values.
    choices: str | tuple[str, ...] | None = None
    # The value a form starts with (a real default: sent as the request's value unless changed).
    # An example shown greyed out is never a default: forms word it as "e.g. ...".
    default: Any = None
    # Shown only when a button filled it (e.g. Renew fills renews), read-only; never typed from scratch.
    filled_only: bool = False
    # A form's greyed-out example in an empty text field (worded "e.g. ..." by the form), never a value.
    placeholder: str = ""


FORM = "form"  # the metadata key of a request field's form Field (form, fields_of)


def form(label: str, help: str = "", *, is_list: bool = False, required: bool = False, kind: str = "text",
         choices: str | tuple[str, ...] | None = None, default: Any = None, filled_only: bool = False,
         placeholder: str = "", init: bool = True) -> Any:
    """A request dataclass's field that a form shows: dataclasses.field carrying its Field (the arguments are
    Field's; its name is the dataclass field's, taken by fields_of). No dataclass default: a request is built
    with every value (`default` is the form's starting value, as in Field). init=False: a field the request
    computes itself (in __post_init__). A shared value (recipes.common.JUSTIFICATION) must keep its name in
    every request type that uses it (the dataclass records the name on the shared object). mypy reads form() as
    a default, so a value left out fails when the request is built, not in mypy."""
    spec = Field("", label, help, is_list, required, kind, choices, default, filled_only, placeholder)
    return dataclasses.field(init=init, metadata={FORM: spec})


def fields_of(request_type: type) -> tuple[Field, ...]:
    """The form's fields of a request dataclass, in its order: each field declared with form(), named as the
    dataclass field. Raises TypeError for a shared form value used under two names."""
    out = []
    for name, f in request_type.__dataclass_fields__.items():  # type: ignore[attr-defined]  # a dataclass
        if FORM in f.metadata:
            if f.name != name:
                raise TypeError(f"{request_type.__name__}.{name}: a shared form value must keep its name ({f.name})")
            out.append(dataclasses.replace(f.metadata[FORM], name=name))
    return tuple(out)


@dataclass
class ChangeSet:
    """File (relative to the config folder) -> new text (None deletes), and what it is about."""

    title: str
    files: dict[str, str | None] = field(default_factory=dict)
    summary: str = ""


@dataclass(frozen=True)
class Recipe(Generic[R]):
    name: str  # as on the command line: new-user
    title: str
    # The typed request parse() returns: its form() fields are the recipe's `fields` (fields_of).
    request: type[R]
    parse: Callable[[dict[str, Any], Snapshot], R]  # raises FieldErrors
    build: Callable[[Snapshot, R], ChangeSet]  # pure
    # The stored request of a typed one, for recipes whose stored request is not simply their fields (intent,
    # or texts a form never shows); None: derived from `fields` (Recipe.to_dict).
    stored: Callable[[R], dict] | None = None
    # For recipes that change an existing object: its current values in the form parse() takes,
    # so a form can start from them (target name -> raw fields). Pure, like build.
    current: Callable[[Snapshot, str], dict] | None = None
    # For recipes whose stored request is intent (items added / removed), not the form's fields: the form's
    # values for a stored request on `base`, to edit and resubmit it. Pure. None: the request is the form.
    form_values: Callable[[Snapshot, dict], dict] | None = None
    description: str = ""  # one line for the home page and --help
    page: str = ""  # the key of its page in portal.ui.PAGES
    # The files it may change, as glob patterns over the config folder; "{name}" is the request's name.
    touches: tuple[str, ...] = ()
    # For recipes built from texts at other commits (a revert): the (commit, file) pairs whose texts parse()
    # reads from raw[SOURCES], which the application layer fills from git (a recipe does no I/O). Pure.
    sources: Callable[[dict], list[tuple[str, str]]] | None = None
    urgent: bool = False  # shown first, marked urgent, in the review queue (and labelled `urgent` on GitHub)
    # How its form page shows it (portal.recipe_form): the line under the title; the fields drawn above the
    # form, so the form can react to them (a target whose current values fill the form); the fields hidden
    # for the values the form holds now (field name -> value). Pure.
    intro: str = ""
    outside: tuple[str, ...] = ()
    hidden: Callable[[dict], set[str]] | None = None
    # For a recipe sharing another's request type whose form shows it otherwise (new-service-user: new-user's
    # without names): the request type's fields, tailored. Pure.
    tailor: Callable[[tuple[Field, ...]], tuple[Field, ...]] | None = None
    # Derived, never given: the form's fields, from `request` (fields_of), then `tailor`.
    fields: tuple[Field, ...] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        derived = fields_of(self.request)
        object.__setattr__(self, "fields", self.tailor(derived) if self.tailor else derived)

    def may_touch(self, rel: str, name: str) -> bool:
        import fnmatch

        from core.snowddl.yaml_reader import normalise

        # As SnowDDL files them: any case, .yml or .yaml, tech_role for technical_role.
        def key(path: str) -> str:
            k = normalise(path)
            return "technical_role" if k == "tech_role" else k

        return any(fnmatch.fnmatchcase(key(rel), key(p.replace("{name}", name))) for p in self.touches)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_dict(self, request: R) -> dict:
        """The request's fields, in the form parse() takes back (to store it, and to re-apply it on a newer
        base): `stored`'s, or each of the recipe's fields the typed request holds (a dataclass), in the
        request's order, tuples as lists, an empty value (None, no items) left out."""
        if self.stored is not None:
            return self.stored(request)
        names = {f.name for f in self.fields}
        out: dict[str, Any] = {}
        for f in dataclasses.fields(request):  # type: ignore[arg-type]  # every recipe's request is a dataclass
            value = getattr(request, f.name)
            if f.name in names and value is not None and value != ():
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def checked(value: R | None) -> R:
    """A parsed value after Collector.raise_if_any: a check that failed left an error, so a value whose
    checks passed is set. It only tells the type checker so; nothing is checked again at run time."""
    return cast(R, value)


class Collector:
    """Runs field checks, keeping every error instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def check(self, fn: Callable, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FieldError as exc:
            self.errors.append(exc)
            return None

    def add(self, field_name: str, message: str) -> None:
        self.errors.append(FieldError(field_name, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)
