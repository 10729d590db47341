"""Preview: what a request would change, SnowDDL's verdict, and for a warehouse request its projected
monthly cost, before anything is written. The portal's form and `snowtower request` show this one
preview, so both give the same figures."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from core.keys import PRIVATE_KEY_MESSAGE, contains_private_key
from core.snowddl.config_loader import Validation
from core.snowddl.commit_snapshot import Snapshot, plan_changes, validate_with_changes
from core.textdiff import unified_diff
from app.services import Services
from core.fields import FieldError
from recipes.base import ChangeSet, FieldErrors, Recipe


@dataclass
class Preview:
    recipe: str
    base_sha: str
    request: Any = None
    request_dict: dict = field(default_factory=dict)
    changes: ChangeSet | None = None
    diff: str = ""
    validation: Validation | None = None
    field_errors: dict[str, str] = field(default_factory=dict)
    plan: dict = field(default_factory=dict)
    # The effective access gained and lost per person (core.findings.access.AccessChange; None: not computed)
    access: Any = None
    # A warehouse request's projected monthly cost (core.snowflake.projection.Projection), None for other
    # requests or when the account could not be read; then `cost_note` says why, in one line.
    cost: Any = None
    cost_note: str = ""
    currency: str = ""
    base_errors: int = 0  # SnowDDL's errors on the base config, before the change (0: it was valid)

    @property
    def ok(self) -> bool:
        return not self.field_errors and self.validation is not None and self.validation.valid

    def rejection(self) -> str:
        """Why SnowDDL's verdict on the result is "invalid", in words ("" when it passes): the base
        configuration was invalid before the change, or the change made it so."""
        if self.validation is None or self.validation.valid:
            return ""
        if self.base_errors:
            after = len(self.validation.errors)
            more = f", {after} with this change" if after > self.base_errors else ""
            return (f"the configuration was already invalid before this change: the base has {self.base_errors} "
                    f"error(s){more} (snowtower validate lists them); fix the base first, then ask again")
        return "SnowDDL rejects the resulting configuration"

    def to_dict(self) -> dict:
        return {
            "recipe": self.recipe,
            "base": self.base_sha,
            "field_errors": self.field_errors,
            "diff": self.diff,
            "files": sorted(self.changes.files) if self.changes else [],
            "title": self.changes.title if self.changes else None,
            "summary": self.changes.summary if self.changes else None,
            "validation": self.validation.to_dict() if self.validation else None,
            "plan": self.plan,
            "cost": {**self.cost.to_dict(), "currency": self.currency} if self.cost is not None else None,
            "cost_note": self.cost_note,


            "base_valid": not self.base_errors,
            # access, access_unchanged, access_roles, access_text (and access_error): see app.access
            **(self.access.to_dict() if self.access is not None else {"access": []}),
        }


def preview(recipe: Recipe, raw: dict, base: Snapshot, *, config_prefix: str = "", env_prefix: str = "") -> Preview:
    """Parse, build and validate a request against `base`; writes nothing."""
    result = Preview(recipe.name, base.sha or "")
    # Why: a private key pasted anywhere (a justification, a comment, a name) would be stored in git, the
    # request record and the PR; it is refused, and never parsed, for every field of every recipe.
    leaked = private_key_fields(raw)
    try:
        request = recipe.parse({k: v for k, v in raw.items() if k not in leaked}, base)
    except FieldErrors as exc:
        result.field_errors = {**exc.by_field(), **leaked}
        return result
    if leaked:
        result.field_errors = leaked
        return result
    try:
        changes = recipe.build(base, request)
    except FieldErrors as exc:  # the change cannot be built on this config (e.g. a refused edit): say why
        result.field_errors = exc.by_field()
        return result
    result.request = request
    result.request_dict = recipe.to_dict(request)
    result.changes = changes
    result.diff = unified_diff(base, changes.files, config_prefix)
    head = validate_with_changes(base, changes.files, env_prefix)
    result.validation = head.validation
    result.base_errors = len(base.config.validation.errors)  # why: never blame a request for the base's faults
    # What SnowDDL would run for this change (offline, against the base config's deployed state).
    result.plan = plan_changes(base, head).to_dict()
    # What that means for people: the privileges each user gains or loses, through which roles.
    from app.access import between

    result.access = between(base, head, changes.files)
    return result


def private_key_fields(raw: dict) -> dict[str, str]:
    """Field name -> PRIVATE_KEY_MESSAGE for every value (a string, or a list of them) holding a private key."""
    out = {}
    for name, value in raw.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and contains_private_key(v) for v in values):
            out[str(name)] = PRIVATE_KEY_MESSAGE
    return out


MAX_SOURCE_BYTES = 5_000_000  # one file's text read for a recipe's sources


def with_sources(services: Services, recipe: Recipe, raw: dict) -> dict:
    """`raw` with raw[SOURCES] filled from git for a recipe that declares sources (a revert: the files a
    merged change touched, at its parent and at its commit); any SOURCES typed in `raw` is dropped first:
    the texts come from the repository only. Other recipes: `raw` as it is. Raises FieldErrors
    when the recipe's commits or files are not well formed, ChangeError when a commit cannot be read."""
    from recipes.base import SOURCES

    if recipe.sources is None:
        return raw
    raw = {k: v for k, v in raw.items() if k != SOURCES}
    texts: dict[str, str | None] = {}
    for sha, rel in recipe.sources(raw):
        path = services.changes.config_at(sha) / rel
        if path.is_symlink():  # why: a link committed to the repository could point anywhere on this host
            raise FieldErrors([FieldError("files", f"{rel} is a symbolic link; revert it by hand.")])
        if not path.is_file():
            texts[f"{sha}:{rel}"] = None
        elif path.stat().st_size > MAX_SOURCE_BYTES:
            raise FieldErrors([FieldError("files", f"{rel} is larger than {MAX_SOURCE_BYTES} bytes.")])
        else:
            texts[f"{sha}:{rel}"] = path.read_bytes().decode("utf-8", errors="replace")
    return {**raw, SOURCES: texts}


def request_cost(recipe: str, request: dict, base: Snapshot, source: Callable[[], object],
                 price_per_credit: float) -> tuple[Any, str]:
    """The projected monthly cost of a warehouse request: (Projection, "") from
    core.snowflake.projection.project_request (credits from ACCOUNT_USAGE.WAREHOUSE_METERING_HISTORY over the
    warehouse's last 30 days, money = credits x `price_per_credit`), the current size and auto-suspend of
    a changed warehouse from the `base` config; (None, "") for any other recipe; (None, reason) when
    `source()` (a zero-argument factory of a core.snowflake source) or the account refuses."""
    from core.snowflake.projection import WAREHOUSE_RECIPES, project_request
    from core.snowflake.queries import QueryError

    if recipe not in WAREHOUSE_RECIPES or not request:
        return None, ""
    from core.snowddl.inventory import describe

    # A change is projected from the warehouse's size and auto-suspend today; a new one from the other
    # warehouses' compute-equivalent hours, which need each one's size.
    warehouses = describe(base.config)["warehouses"]
    try:
        return project_request(source(), recipe, request, warehouses, float(price_per_credit)), ""
    except QueryError as exc:
        return None, f"cost projection unavailable: {' '.join(str(exc).split())[:500]}"


def with_cost(result: Preview, base: Snapshot, source: Callable[[], object], price_per_credit: float,
              currency: str) -> Preview:
    """`result` with its request's projected monthly cost (request_cost) when it has no field error; returns `result`."""
    if result.request_dict and not result.field_errors:
        result.cost, result.cost_note = request_cost(result.recipe, result.request_dict, base, source, price_per_credit)
        result.currency = currency
    return result


@dataclass
class PreviewRequest:
    """The preview of `raw` for `recipe` on the base branch (or `base_sha`). With `cost`, a warehouse
    request's projected monthly cost too, read through `source` (a zero-argument factory of a
    core.snowflake source; default the services' own); callers that only need the verdict (merge,
    resubmit) leave it out and read nothing from Snowflake."""
    services: Services
    recipe: Recipe
    raw: dict
    base_sha: str | None = None
    cost: bool = False
    source: Callable[[], object] | None = None

    def execute(self) -> Preview:
        settings = self.services.settings
        base = self.services.snapshot(self.base_sha or self.services.changes.base_head())
        prefix = f"{settings.config_dir}/" if settings.config_dir else ""
        try:
            raw = with_sources(self.services, self.recipe, self.raw)
        except FieldErrors as exc:
            return Preview(self.recipe.name, base.sha or "", field_errors=exc.by_field())
        result = preview(self.recipe, raw, base, config_prefix=prefix, env_prefix=settings.env_prefix)
        # Why: the deploying account and its roles (settings protected_users, protected_roles) are what every
        # later deployment runs as; a request that would change them is refused here, so it is never submitted.
        from app.operations.shared.protected import field_of, protected_message, protected_touched

        touched = protected_touched(result.plan, settings.protected_users, settings.protected_roles, settings.env_prefix)
        if touched:
            key = field_of(self.raw, [f.name for f in self.recipe.fields], touched)
            result.field_errors = {**result.field_errors, key: protected_message(touched)}
        problem = self._until_problem(result.request)
        if problem:  # why: a time-bound grant may not outlast the longest the organisation allows (grant_max_days)
            result.field_errors = {**result.field_errors, "until": problem}
        renews = getattr(result.request, "renews", None)
        if renews:  # why: "Renews #N" tells reviewers the access was approved before; it must be true
            problem = self._renews_problem(result.request)
            if problem:
                result.field_errors = {**result.field_errors, "renews": problem}
        if self.cost:
            with_cost(result, base, self.source or self.services.snowflake_source, settings.price_per_credit,
                      settings.currency)
        return result

    def _until_problem(self, request) -> str:
        """Why `request.until` (YYYY-MM-DD, a time-bound grant's last day) lies beyond the setting
        grant_max_days from today (UTC, Services.clock); "" when it does not, or there is none."""
        import datetime as dt

        until = getattr(request, "until", None)
        if not until:
            return ""
        latest = self.services.clock().date() + dt.timedelta(days=self.services.settings.grant_max_days)
        if dt.date.fromisoformat(until) > latest:
            return (f"must be at most {self.services.settings.grant_max_days} days from today ({latest.isoformat()}, the "
                    "setting grant_max_days); choose an earlier date, or ask for permanent access.")
        return ""

    def _renews_problem(self, request) -> str:
        """Why `request.renews` (typed by the requester) does not name the merged grant-role request that
        gave `request.name` every role it renews, from the server's records; "" when it does."""
        from core.changes.model import Status

        n = request.renews
        cr = self.services.changes.get(n)
        if cr is None:
            return f"#{n} is not a request."
        req = cr.request or {}
        roles = {str(r).upper() for r in req.get("business_roles") or []}
        if (cr.recipe != "grant-role" or cr.status not in (Status.MERGED, Status.DEPLOYED)
                or str(req.get("name", "")).upper() != request.name.upper()
                or not {r.upper() for r in request.business_roles} <= roles):
            return (f"#{n} is not a merged grant of {', '.join(request.business_roles)} to {request.name}; name the "
                    "request that granted this access, or leave this empty.")
        return ""
