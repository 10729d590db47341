"""The `snowtower` command line (also used by the GitHub workflows).

Exit codes: 0 success / valid, 1 invalid or refused (the message names the field), 2 usage or I/O error.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from app.mode import Mode
from app.paths import DEFAULT_WORKSPACE, REPO_ROOT


class UsageError(Exception):
    pass


def _print_problems(validation) -> None:
    for p in validation.errors:
        where = ":".join(str(x) for x in (p.file, p.line) if x) or "config"
        print(f"error   {where}: {p.message}" + (" (knock-on)" if p.knock_on else ""))
    for p in validation.warnings:
        where = ":".join(str(x) for x in (p.file, p.line) if x) or "config"
        print(f"warning {where}: {p.message}")


_RUN_CUSTOM_HELP = ("run the config's __custom/*.py modules as SnowDDL does: this executes the repository's own "
                    "code, so use it only in trusted CI on reviewed code (see docs/snowddl-core.md)")


def cmd_validate(args) -> int:
    from core.snowddl.config_loader import load_config

    path = Path(args.dir)
    if not path.is_dir():
        print(f"snowtower validate: {path} is not a folder", file=sys.stderr)
        return 2
    try:
        values = json.loads(args.placeholder_values) if args.placeholder_values else None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--placeholder-values is not JSON: {exc}") from None
    if values is not None and not isinstance(values, dict):
        raise UsageError("--placeholder-values must be a JSON object, e.g. '{\"wh_size\": \"SMALL\"}'")
    validation = load_config(path, args.env_prefix or "", placeholder_values=values,
                             run_custom_python=args.run_custom_python).validation
    import datetime as dt

    from core.snowddl.config_loader import expired_warnings

    validation.warnings.extend(expired_warnings(path, dt.datetime.now(dt.timezone.utc).date()))
    if args.format == "json":
        print(json.dumps(validation.to_dict(), indent=2))
    else:
        _print_problems(validation)
        print(f"{path}: {'valid' if validation.valid else 'INVALID'} "
              f"({len(validation.errors)} error(s), {len(validation.warnings)} warning(s))")
    return 0 if validation.valid else 1


def _resolve_base(base: str, head: Path, stack) -> Path:
    """--base is a folder, or a git ref of the repository that holds the head folder."""
    path = Path(base)
    if path.is_dir():
        return path
    import subprocess
    import tempfile

    from core.changes.git import GitError, GitRepo

    def git(*args):
        proc = subprocess.run(["git", "-C", str(head), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    git_dir, prefix = git("rev-parse", "--absolute-git-dir"), git("rev-parse", "--show-prefix")
    if git_dir is None:
        raise UsageError(f"--base {base} is neither a folder nor a git ref ({head} is not in a git repository)")
    repo = GitRepo(git_dir)
    sha = repo.rev(base)
    if sha is None:
        raise UsageError(f"--base {base} is neither a folder nor a git ref of the repository at {git('rev-parse', '--show-toplevel')}")
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="snowtower-base-")))
    try:
        return repo.export(sha, prefix.rstrip("/"), tmp / "config")
    except (GitError, subprocess.CalledProcessError):
        raise UsageError(f"{head} does not exist at {base}") from None


def cmd_plan(args) -> int:
    import contextlib

    from core.snowddl.config_loader import load_config
    from core.snowddl.plan import PlanError, plan_between, plan_live, render_markdown, render_text

    head = Path(args.head)
    if not head.is_dir():
        raise UsageError(f"--head {head} is not a folder")
    prefix = args.env_prefix or ""
    with contextlib.ExitStack() as stack:
        head_config = load_config(head, prefix, run_custom_python=args.run_custom_python)
        if args.live:
            if not head_config.validation.valid:
                _print_problems(head_config.validation)
                print("snowtower plan: the head config is invalid", file=sys.stderr)
                return 1
            try:
                plan = plan_live(head_config.snowddl)
            except PlanError as exc:
                raise UsageError(str(exc)) from None
        else:
            if not args.base:
                raise UsageError("--base DIR|GITREF is required (or --live to plan against the account)")
            base_config = load_config(_resolve_base(args.base, head, stack), prefix, run_custom_python=args.run_custom_python)
            plan = plan_between(base_config, head_config)
    if args.format == "json":
        print(json.dumps(plan.to_dict(), indent=2))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(plan))
    else:
        sys.stdout.write(render_text(plan))
    return 1 if plan.errors else 0


def _parse_sets(recipe, pairs: list[str], files: list[str]) -> dict:
    raw: dict = {}
    for pair, from_file in [(p, False) for p in pairs] + [(f, True) for f in files]:
        if "=" not in pair:
            raise UsageError(f"--set takes FIELD=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.strip()
        field = recipe.field(key)
        if field is None:
            names = ", ".join(f.name for f in recipe.fields)
            raise UsageError(f"{recipe.name} has no field {key!r}; its fields are: {names}")
        if from_file:
            try:
                value = Path(value).read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot read {value}: {exc.strerror}") from None
        raw[key] = [v.strip() for v in value.split(",") if v.strip()] if field.is_list else value
    return raw


def _request_cost_source(settings, services=None):
    """Where `snowtower request` reads a warehouse's metering for the cost projection, as `snowtower cost`
    does: a real account (SNOWFLAKE_ACCOUNT: the connector with key-pair auth), else the services' own
    source (with --submit), else the demo stand-in of the workspace, if it has been generated (opened
    read-only: a preview creates nothing). A zero-argument factory; it raises QueryError when there is none."""
    from core.snowflake.connect import STANDIN_FILE, connector_source, standin_source
    from core.snowflake.queries import QueryError
    from core.workspace import Workspace

    def source():
        if os.environ.get("SNOWFLAKE_ACCOUNT"):
            return connector_source()
        if services is not None:
            return services.snowflake_source()
        folder = Workspace(settings.workspace).account_dir
        if Mode.of(settings).is_demo and (Path(folder) / STANDIN_FILE).is_file():
            return standin_source(folder)
        raise QueryError("no Snowflake account to read: set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER and "
                         "SNOWFLAKE_PRIVATE_KEY_PATH, or give --workspace of a demo")
    return source


def _preview_cost(result, base, workspace) -> None:
    """The preview's cost projection (app.operations.shared.preview.with_cost) for `snowtower request` without
    --submit: price and currency from the settings of `workspace` (defaults when they cannot be read)."""
    from app.operations.shared.preview import with_cost
    from app.settings import load_settings
    from core.snowflake.projection import WAREHOUSE_RECIPES

    if result.recipe not in WAREHOUSE_RECIPES or not result.request_dict:
        return
    try:
        settings = load_settings(workspace)
    except ValueError as exc:
        result.cost_note = f"cost projection unavailable: the settings cannot be read ({' '.join(str(exc).split())[:300]})"
        return
    with_cost(result, base, _request_cost_source(settings), settings.price_per_credit, settings.currency)


def _print_cost(result) -> None:
    """The preview's projected monthly cost in words (the figures of its JSON "cost"), or why there is none."""
    p = result.cost
    if p is not None:
        today = (f"today {p.current_credits:,.1f} credits ({p.current_money:,.0f} {result.currency}), "
                 if p.current_credits is not None else "")
        print(f"projected monthly cost{' (estimate)' if p.estimate else ''}: {today}after this change "
              f"{p.projected_credits:,.1f} credits ({p.projected_money:,.0f} {result.currency}) at "
              f"{p.price_per_credit:,.2f} {result.currency} per credit")
        print(f"cost basis: {p.basis}")
    elif result.cost_note:
        print(result.cost_note)


def cmd_request(args) -> int:
    from core.changes.base import ChangeError
    from core.changes.model import Actor
    from core.snowddl.commit_snapshot import Snapshot
    from core.snowddl.config_loader import load_config
    from app.operations.shared.preview import preview as make_preview
    from recipes import RECIPES, FieldErrors

    recipe = RECIPES.get(args.recipe)
    if recipe is None:
        raise UsageError(f"unknown recipe {args.recipe!r}; known: {', '.join(sorted(RECIPES))}")
    raw = _parse_sets(recipe, args.set or [], args.set_file or [])
    if args.submit:
        from app.operations import PreviewRequest, SubmitRequest
        from app.services import build_services
        from app.settings import load_settings

        try:
            services = build_services(load_settings(args.workspace))
            result = PreviewRequest(services, recipe, raw, cost=True,
                                    source=_request_cost_source(services.settings, services)).execute()
        except (ChangeError, ValueError) as exc:  # backend misconfigured or unreachable: say so, no traceback
            print(f"snowtower request: {exc}", file=sys.stderr)
            return 2
    else:
        config = Path(args.config)
        if not config.is_dir():
            raise UsageError(f"config folder {config} does not exist")
        base = Snapshot(config.resolve(), None, load_config(config, args.env_prefix or ""))
        result = make_preview(recipe, raw, base, env_prefix=args.env_prefix or "")
        _preview_cost(result, base, args.workspace)

    out = result.to_dict()
    code = 0
    if result.field_errors:
        code = 1
        for field, message in result.field_errors.items():
            print(f"snowtower request: {field}: {message}", file=sys.stderr)
    elif not result.validation.valid:
        code = 1
        print(f"snowtower request: {result.rejection()}", file=sys.stderr)
    elif args.submit:
        from app.identity import Vouched, github_name, github_people

        github_author = args.github_author or os.environ.get("SNOWTOWER_GITHUB_AUTHOR")
        try:
            # Why a namespace: a GitHub account's name is whatever its owner registered; a stranger's
            # account called like a portal approver requests as github:approver, not as the approver.
            user = github_name(github_author, github_people(services.settings)) if github_author else \
                os.environ.get("SNOWTOWER_USER") or getpass.getuser()
        except ValueError as exc:
            print(f"snowtower request: --github-author: {exc}", file=sys.stderr)
            return 2
        # Whoever runs this holds the workspace (or the workflow's token) and names the requester: it may
        # submit though it has no portal login, unless that login is disabled (app.identity.Vouched).
        services.identity = Vouched(services.identity, user)
        try:
            cr = SubmitRequest(services, Actor(user, user, roles=("requester",)), recipe, raw, result.base_sha).execute()
        except (ChangeError, FieldErrors) as exc:
            from app.identity import is_reserved

            if is_reserved(user):  # refused (and audited) by the operation; say why in words here
                exc = f"{user[:100]} is the name of one of SnowTower's jobs: it cannot be a requester (SNOWTOWER_USER). {exc}"
            print(f"snowtower request: {exc}", file=sys.stderr)
            return 1
        out["submitted"] = {"id": cr.id, "branch": cr.branch, "title": cr.title, "url": cr.url}

    if args.format == "json":
        print(json.dumps(out, indent=2))
    elif not result.field_errors:
        sys.stdout.write(result.diff)
        if result.changes is not None and result.changes.summary:
            print(f"summary: {result.changes.summary}")
        if result.access is not None:  # effective access per person (app.access), in plain words
            print("access:")
            for sentence in result.access.sentences():
                print(f"  {sentence}")
        _print_problems(result.validation)
        print(f"validation: {'passed' if result.validation.valid else 'FAILED'}")
        _print_cost(result)
        if "submitted" in out:
            print(f"submitted: #{out['submitted']['id']} on branch {out['submitted']['branch']}")
            if out["submitted"]["url"]:
                print(f"change request: {out['submitted']['url']}")
        elif code == 0:
            print("preview only: nothing was written (add --submit to open the change request)")
    return code


def cmd_expire(args) -> int:
    """Time-bound grants that ended or end within --within days, and stale users; --submit opens one
    revoke (offboard) request each as the expiry job. Exit 0 done, 1 a request could not be opened, 2 usage."""
    from core.changes.base import ChangeError
    from app.jobs.expire import ExpireAccess
    from app.services import build_services
    from app.settings import load_settings

    # Without --submit it only reads: a missing workspace is an error, never a new demo one.
    settings = load_settings(args.workspace) if args.submit else existing_workspace(args.workspace, "snowtower expire")
    try:
        services = build_services(settings)
        report = ExpireAccess(services, args.within, args.submit, args.stale_days).execute()
    except (ChangeError, ValueError) as exc:  # misconfigured or unreachable backend, bad numbers: no traceback
        print(f"snowtower expire: {exc}", file=sys.stderr)
        return 2
    failed = [p for p in report.proposals if p.error]
    if args.format == "json":
        print(json.dumps({**report.to_dict(), "demo_data": demo_data(settings)}, indent=2))
    else:
        if demo_data(settings):  # the stale users (last logins) come from the stand-in
            print(DEMO_DATA_NOTE)
        print(f"as of {report.today.isoformat()}: {len(report.ending)} time-bound grant(s) ended or ending within "
              f"{report.within} day(s)")
        for g in report.ending:
            left = g.days_left(report.today)
            state = f"ended {-left} day(s) ago" if left < 0 else ("ends today" if left == 0 else f"ends in {left} day(s)")
            print(f"  {g.user:<24} {g.role:<24} until {g.until.isoformat()}  {state}")
        if report.stale_error:
            print(f"stale users not checked: {report.stale_error}")
        for p in report.proposals:
            what = f"revoke {p.role} from {p.user}" if p.kind == "revoke" else f"offboard {p.user}"
            if p.opened:
                state = f"opened {p.opened.ref}" + (" (approved by policy)" if p.approved else "")
                state += f"; {p.error}" if p.error else ""
            elif p.error:
                state = f"NOT opened: {p.error}"
            elif p.covered_by:
                state = f"already requested: {p.covered_by}"
            else:
                state = "would open a request (add --submit)"
            print(f"{what}: {state}")
        print(f"{len(report.proposals)} proposal(s), {sum(p.opened is not None for p in report.proposals)} opened")
    return 1 if failed else 0


def cmd_revert(args) -> int:
    """`snowtower revert --pr N` (GitHub) / `--request N` (local): the revert request of a merged change whose
    deployment failed, opened with --submit as the system actor snowtower-deploy (app/operations/revert.py).
    Exit 0 opened, already covered, or would open; 1 refused (not a failed deployment, or the base branch
    changed the same lines: the admins are told), 2 usage or the backend could not be reached."""
    from core.changes.base import ChangeError
    from app.notifications import notify
    from app.identity import DEPLOY_ACTOR
    from app.operations.revert import RevertFailedDeployment
    from app.services import build_services
    from app.settings import load_settings

    number = args.pr if args.pr is not None else args.request
    if number is None or number < 1:
        raise UsageError("name the change: --pr N (GitHub) or --request N (local), 1 or more")
    try:
        services = build_services(load_settings(args.workspace))
        outcome = RevertFailedDeployment(services, number, submit=args.submit).execute()
    except ChangeError as exc:  # a misconfigured or unreachable backend is 2; a refusal 1
        from core.changes.github import GitHubUnavailable

        print(f"snowtower revert: {exc} Nothing was opened.", file=sys.stderr)
        return 2 if isinstance(exc, GitHubUnavailable) or "services" not in locals() else 1
    if outcome.refused:
        # Why: nothing was guessed; the admins hear that the failed change still waits to be reverted by hand.
        target = services.changes.get(number)
        if target is not None and args.submit:
            notify(services, "request_deploy_failed", target, DEPLOY_ACTOR, f"Revert: {outcome.message}")
        print(f"snowtower revert: {outcome.message}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        print(outcome.message + ("" if args.submit or outcome.covered_by else " (add --submit)"))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(f"- revert of #{number}: {outcome.message}\n")
    return 0


def cmd_access_review(args) -> int:
    """`access-review start|status|report|remind`: start a campaign (as the snowtower-cli system actor, an admin),
    list campaigns or one campaign's items with their verdicts, print a campaign's report (text, csv, json), or
    send the reviewers' reminders (_access_review_remind). Exit 0 done, 1 refused, 2 usage or no workspace."""

    from core.changes.base import ChangeError
    from core.snowflake.queries import QueryError
    from app import campaigns
    from app.identity import system_actor
    from app.services import build_services
    from app.settings import load_settings

    name = f"snowtower access-review {args.action}"
    # Why: status and report only read: a missing workspace is an error, never a new demo one.
    settings = load_settings(args.workspace) if args.action == "start" else existing_workspace(args.workspace, name)
    if args.action == "remind":
        return _access_review_remind(settings, args)
    try:
        services = build_services(settings)
        if args.action == "start":
            deadline = campaigns.parse_deadline(args.deadline)
            c = campaigns.start(services, system_actor("snowtower-cli"), args.scope, deadline, args.name or "", args.days)
            args.id = c.id
        store = campaigns.store_for(services)
        if args.action == "status" and args.id is None:
            today = services.clock().date()
            rows = [(c, campaigns.progress(c, store.items(c.id), today)) for c in store.list()]
            if args.format == "json":
                print(json.dumps([{"id": c.id, "name": c.name, "scope": c.scope, "deadline": c.deadline.isoformat(),
                                   "closed_at": c.closed_at, **p} for c, p in rows], indent=2))
            else:
                for c, p in rows:
                    print(f"#{c.id} {c.name} ({c.scope}) deadline {c.deadline.isoformat()}"
                          f"{' closed' if c.closed_at else ''}: {p['decided']}/{p['items']} decided, {p['overdue']} overdue")
                print(f"{len(rows)} access review(s)")
            return 0
        if args.id is None:
            raise ValueError("give the campaign's number: --id N")
        data = campaigns.report(services, args.id)
    except (ChangeError, QueryError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(data, indent=2))
    elif args.format == "csv":
        sys.stdout.write(campaigns.report_csv(data))
    else:
        print("\n".join(campaigns.report_lines(data)))
    return 0


def _access_review_remind(settings, args) -> int:
    """`access-review remind`: each reviewer's reminder of the day (app.review_reminders), once. Exit 0 nothing
    new, 1 sent (or would be, with --dry-run), 2 no channel, the records unwritable, or a reminder no channel took."""
    from app import review_reminders
    from app.findings_state import StateError
    from app.services import build_services
    from core.changes.base import ChangeError
    from core.snowflake.queries import QueryError

    name = "snowtower access-review remind"
    try:
        services = build_services(settings)
        if not args.dry_run and not review_reminders.channel_names(services):
            print(f"{name}: no notification channel is set up (Slack: notify_slack_webhook_url or a bot token and "
                  "notify_slack_channel; e-mail: notify_smtp_host); nothing was sent", file=sys.stderr)
            return 2
        run = review_reminders.run_reminders(services, dry_run=args.dry_run)
    except (StateError, QueryError, ChangeError, ValueError, OSError) as exc:  # QueryError: a campaign table (TableError)
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        def one(r, channels=None):
            return {"key": r.key, "reviewer": r.recipient.username, "items": r.items, "overdue": r.overdue,
                    "campaigns": [{"id": w.campaign_id, "name": w.name, "deadline": w.deadline.isoformat(), "open": w.open}
                                  for w in r.waiting]} | ({"channels": channels} if channels is not None else {})
        print(json.dumps({"dry_run": args.dry_run, "sent": [one(r, c) for r, c in run.sent],
                          "would_send": [one(r) for r in run.new], "already_sent": run.already,
                          "failed": [one(r) for r in run.failed], "pending": [one(r) for r in run.pending]}, indent=2))
    else:
        def label(r):
            return f"{r.recipient.username}: {r.items} item(s){' overdue' if r.overdue else ''}"
        for r, channels in run.sent:
            print(f"sent       {label(r)}  via {', '.join(channels)}")
        for r in run.new:
            print(f"would send {label(r)}")
        for r in run.failed:
            print(f"failed     {label(r)}: no channel took it (see the log); the next run tries again")
        print(f"{len(run.sent)} sent, {len(run.new)} would be sent, {len(run.already)} sent before today"
              + (f", {len(run.pending)} left for the next run" if run.pending else ""))
    if run.failed:
        return 2
    return 1 if run.sent or run.new or run.pending else 0


def _loopback(address: str) -> bool:
    import ipaddress

    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


DEMO_REMOTE_WARNING = """
WARNING: the SnowTower demo is served on {address}, beyond this machine.
  Its logins (requester, approver, admin) share the public password 'demo': anyone who reaches this
  port can sign in as an admin, approve and merge. Serve it on a network you trust, and use a
  production workspace (docs/deploy.md) with your own users (`snowtower users add`) for anything else.
"""


def _demo_address_guard(address: str, allow_remote: bool, what: str) -> None:
    """Refuse (UsageError) to serve demo logins beyond this machine without --allow-remote; warn loudly with it."""
    # Why: the demo logins' password is public; beyond localhost anyone could sign in as an admin.
    if _loopback(address):
        return
    if not allow_remote:
        raise UsageError(f"--address {address} serves {what} beyond this machine, where anyone can sign in "
                         "with the public demo logins; add --allow-remote if that is what you want.")
    print(DEMO_REMOTE_WARNING.format(address=address), file=sys.stderr, flush=True)


def demo_logins_served(settings) -> bool:
    """Whether the portal of `settings` signs people in with the demo logins (public password 'demo'):
    demo mode with local sign-in, where the portal creates them if the users file is missing
    (app.identity.ensure_demo_logins) and accepts them (outside demo mode read_users leaves them out)."""
    return Mode.of(settings).demo_logins


def cmd_demo(args) -> int:
    import time

    from core.snowflake.demo import MAX_QUERY_ROWS
    from portal.auth import DEMO_PASSWORD, DEMO_USERS, ensure_demo_logins
    from app.services import build_services
    from app.settings import load_settings

    if args.query_rows is not None and not 1 <= args.query_rows <= MAX_QUERY_ROWS:
        raise UsageError(f"--query-rows must be between 1 and {MAX_QUERY_ROWS:,}")
    _demo_address_guard(args.address, args.allow_remote, "the demo")
    workspace = Path(args.workspace).expanduser().resolve()
    existed = (workspace / "repo.git" / "HEAD").is_file()
    settings = load_settings(workspace)
    # Why: demo logins in a production workspace would be refused anyway, and would hide its setup page.
    if not Mode.of(settings).is_demo:
        raise UsageError(f"{workspace} is a {settings.mode} workspace (its settings.toml says so): serve it with "
                         "`snowtower serve`, with logins from `snowtower users add`.")
    services = build_services(settings)
    ensure_demo_logins(services.workspace.auth_path)
    print(f"SnowTower demo workspace: {workspace} ({'reused' if existed else 'created'})")
    print(f"  git repository: {services.workspace.repo_path}  (git clone it to look around)")
    print(f"  review records: {services.workspace.db_path}")
    started = time.monotonic()
    done = services.sync_demo_account(generate=True, query_rows=args.query_rows)
    made = " (generated in %.1f s)" % (time.monotonic() - started) if "demo account generated" in done else ""
    print(f"  Snowflake stand-in: {services.workspace.account_dir}{made}")
    print(f"  logins: {', '.join(DEMO_USERS)}  (password: {DEMO_PASSWORD})")
    return _serve(workspace, args.port, args.address)


def existing_workspace(workspace: str | None, command: str, needs_repository: bool = True):
    """The settings of an existing workspace, for a read-only command (cost, security, expire without
    --submit, users list, check): it never creates one. Raises UsageError (exit 2) naming the path when
    the folder is missing, or (`needs_repository`: the command builds the change backend) when a
    local-backend workspace has no git repository yet (building it would seed one from the example config)."""
    from app.settings import load_settings
    from core.workspace import Workspace

    settings = load_settings(workspace)
    root = settings.workspace
    if not root.is_dir():
        raise UsageError(f"no SnowTower workspace at {root}: {command} reads a workspace and creates none (give "
                         f"--workspace or SNOWTOWER_WORKSPACE; `snowtower demo --workspace {root}` creates a demo one).")
    if needs_repository and not Mode.of(settings).on_github and not Workspace(root).exists():
        raise UsageError(f"{root} holds no SnowTower git repository (repo.git): {command} reads a workspace and "
                         "creates none (`snowtower demo` or `snowtower serve` sets one up).")
    return settings


DEMO_DATA_NOTE = "demo data: figures from the demo workspace's Snowflake stand-in (generated), not from an account"


def demo_data(settings) -> bool:
    """Whether the Snowflake figures a command prints for `settings` come from the demo's stand-in
    (app.services.Services.snowflake_source: demo mode with the local backend, and no SNOWFLAKE_ACCOUNT)."""
    return Mode.of(settings).demo_account and not os.environ.get("SNOWFLAKE_ACCOUNT")


def _cost_warehouses(settings) -> list[dict] | None:
    """The deployed config's warehouses (size, auto-suspend, monitor) for cost recommendations, from the workspace's
    base branch; None (no recommendations) when there is no workspace or its config cannot be read."""
    from core.snowddl.inventory import describe
    from app.services import build_services

    if not Path(settings.workspace).is_dir():  # why: a read-only command never creates a workspace
        return None
    try:
        return describe(build_services(settings).snapshot().config)["warehouses"]
    except Exception:  # noqa: BLE001  why: recommendations are extra; the cost figures stand without them
        return None


def cmd_cost(args) -> int:
    """Warehouse credits and money over the last --days days, the month-end forecast and anomalous days."""
    import csv

    from core.changes.base import ChangeError
    from core.snowflake.connect import connector_source
    from core.snowflake.cost import Prices, summary
    from core.snowflake.queries import QueryError
    from app.services import build_services
    from app.settings import load_settings

    if not 1 <= args.days <= 365:
        raise UsageError("--days must be between 1 and 365")
    if os.environ.get("SNOWFLAKE_ACCOUNT") and not (args.workspace or os.environ.get("SNOWTOWER_WORKSPACE")):
        settings = load_settings()  # a real account, settings from the environment: no workspace is read
    else:
        settings = existing_workspace(args.workspace, "snowtower cost")
    try:
        if os.environ.get("SNOWFLAKE_ACCOUNT"):  # a real account: the connector with key-pair auth
            source = connector_source()
        else:
            source = build_services(settings).snowflake_source()
        report = summary(source, args.days, float(settings.price_per_credit), prices=Prices.of(settings),
                         budget_monthly=float(settings.budget_monthly), budget_by_warehouse=dict(settings.budget_by_warehouse),
                         warehouses=_cost_warehouses(settings))
    except (QueryError, ChangeError, ValueError, OSError) as exc:
        print(f"snowtower cost: {exc}", file=sys.stderr)
        return 2
    report["currency"] = settings.currency
    report["demo_data"] = demo_data(settings)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    elif args.format == "csv":
        from core.plaintext import csv_cell  # warehouse names come from the account: never a formula

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["warehouse", "credits", "compute_credits", f"compute_money_{settings.currency.lower()}", "idle_credits",
                         "idle_share"])
        for w in report["warehouses"]:
            writer.writerow([csv_cell(w["warehouse"]), f"{w['credits']:.4f}", f"{w['compute_credits']:.4f}", f"{w['compute_money']:.2f}",
                             f"{w['idle_credits']:.4f}", f"{w['idle_share']:.4f}"])
    else:
        from core.plaintext import one_line as plain  # names and notes come from the account: one line, no control characters

        cur = settings.currency
        if report["demo_data"]:
            print(DEMO_DATA_NOTE)
        if not report["warehouses"]:
            print("No warehouse metering in the account yet.")
            return 0
        through = report["data_through"]
        print(f"Cost {report['start']} to {report['end']} (UTC, complete days; metering filled to {through['filled_to']} UTC)")
        print(f"{'spend (as billed)':<28}{'quantity':>11} {'unit':<10}{'price':>8}{'money':>14}")
        for x in report["spend"]["lines"]:
            print(f"{x['line']:<28}{x['quantity']:>11,.2f} {x['unit']:<10}{x['price']:>8,.2f}{x['money']:>10,.0f} {cur}")
        print(f"{'total':<28}{'':>30}{report['total_money']:>10,.0f} {cur}")
        print(f"{'warehouse (metered)':<24}{'credits':>12}{'compute':>12}{'compute money':>16}{'idle':>8}")
        for w in report["warehouses"]:
            print(f"{plain(w['warehouse'], 200):<24}{w['credits']:>12,.1f}{w['compute_credits']:>12,.1f}{w['compute_money']:>12,.0f} {cur}"
                  f"{w['idle_share']:>8.0%}")
        print(f"{'total':<24}{report['total_credits']:>12,.1f}  (metered: before the daily cloud-services adjustment)")
        f = report["forecast"]
        print(f"forecast {f['month']}: {f['projected']:,.0f} billed credits ({f['projected_money']:,.0f} {cur}) by month end; "
              f"{f['month_to_date']:,.0f} so far, {f['daily_rate']:,.1f} credits/day (storage and transfer not included)")
        for a in report["anomalies"]:
            print(f"anomaly {a['day']}: {a['credits']:,.1f} credits (usually {a['baseline']:,.1f}), mostly {plain(a['top_warehouse'], 200)}"
                  + (f", user {plain(a['user'], 200)}" if a["user"] else ""))
        prev = report["previous"]
        if prev:
            ch = prev["change"]
            print(f"previous {prev['start']} to {prev['end']}: {prev['credits']:,.1f} credits ("
                  + (f"{ch['credits']:+.0%}" if ch["credits"] is not None else "n/a") + f"), spend {prev['total_money']:,.0f} {cur} ("
                  + (f"{ch['total_money']:+.0%}" if ch["total_money"] is not None else "n/a") + ")")
        account_budget = (report["budget"] or {}).get("headline")
        if account_budget:
            print(f"budget {report['budget']['month']} ({plain(account_budget['source'], 300)}): {account_budget['month_to_date']:,.0f} of "
                  f"{account_budget['budget']:,.0f} {cur} ({account_budget['used_share']:.0%}), forecast "
                  f"{account_budget['projected_share']:.0%}: {account_budget['status']}")
        for note in (report["budget"] or {}).get("notes", []):
            print(f"budget note: {plain(note, 2000)}")
        for r in report["recommendations"]:
            saving = f"saves ~{r['saving_money']:,.0f} {cur}/month" if r["saving_money"] else "no saving"
            print(f"recommendation {r['code']} {plain(r['warehouse'], 200)}: {saving}" + (f" (fix: {r['fix']['recipe']})" if r["fix"] else ""))
    return 0


def cmd_security(args) -> int:
    """The security page's findings list (severity, state, first/last seen), CIS checks and health scores
    over the last --days days of logins: exit 0 nothing open, 1 findings (account, sign-in, config hygiene or a
    failing CIS check), 2 usage or no account."""
    from app.findings_list import findings_list
    from app.findings_state import StateError
    from app.services import build_services
    from core.changes.base import ChangeError
    from core.findings.security import report_dict
    from core.snowflake.connect import connector_source
    from core.snowflake.queries import QueryError

    if not 1 <= args.days <= 365:
        raise UsageError("--days must be between 1 and 365")
    # Why: read-only: it never creates a workspace (a typo must not print a fresh demo's findings as "the account").
    settings = existing_workspace(args.workspace, "snowtower security")
    try:
        services = build_services(settings)
        # Why: the same source as `snowtower cost`: a real account when SNOWFLAKE_ACCOUNT is set, else the workspace's.
        source = connector_source() if os.environ.get("SNOWFLAKE_ACCOUNT") else services.snowflake_source()
        found = findings_list(services, source, args.days)
        if found is None:
            print("snowtower security: the account has no complete day of metering yet", file=sys.stderr)
            return 2
    except (QueryError, ChangeError, StateError, ValueError, OSError) as exc:
        print(f"snowtower security: {exc}", file=sys.stderr)
        return 2
    report, config_findings, latest = found.report, found.hygiene, found.latest
    doc = report_dict(report, config_findings, found.start, found.end)
    doc["findings_list"] = found.records()
    doc["clean"] = doc["clean"] and not found.open()
    doc["demo_data"] = demo_data(settings)
    if found.hygiene_error:
        doc["hygiene_error"], doc["clean"] = f"the config cannot be read: {found.hygiene_error}", False
        print(f"snowtower security: {doc['hygiene_error']}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(doc, indent=2))
    else:
        if doc["demo_data"]:
            print(DEMO_DATA_NOTE)
        print(f"Security {found.start:%Y-%m-%d} to {latest:%Y-%m-%d} (UTC, logins), users as of the end of {latest:%Y-%m-%d}")
        cov = doc["mfa_coverage"]
        print(f"MFA coverage: {cov['with_mfa']} of {cov['people']} people; service users with a password: "
              f"{', '.join(doc['service_users_with_password']) or 'none'}")
        for f in found.findings:
            state = found.state(f)
            fix = f" (fix: {f.fix.recipe})" if f.fix else ""
            print(f"{f.severity:<9}{state.state:<9}{f.code}  {f.object}: {f.message}{fix}  "
                  f"[first seen {state.first_seen:%Y-%m-%d %H:%M}, last seen {state.last_seen:%Y-%m-%d %H:%M} UTC]")
        for c in report.checks:
            if c.status == "not checked":
                continue
            names = ", ".join(str(r.get("NAME") or r.get("USER_NAME") or r.get("ROLE") or "")
                              for r in c.evidence.to_dict("records"))
            print(f"CIS {c.id:<9} {c.status.upper():<8} {c.title}" + (f": {names}" if names else ""))
        for r in report.health[report.health["SCORE"] < 100].itertuples():
            print(f"health {r.SCORE:>3}  {r.NAME}: {r.REASONS}")
        for r in doc["failed_logins"]:
            print(f"failed logins {r['FAILURES']:>4}  {r['USER_NAME']}: {r['REASON']}")
        print("clean" if doc["clean"] else "findings: see above")
    return 0 if doc["clean"] else 1


def cmd_alerts(args) -> int:
    """Send each new alert event (app.alerts: a new critical or high finding; other providers' events) once
    through the notification plugins: exit 0 nothing new, 1 sent (or, with --dry-run, something would be),
    2 usage, no account or no channel, or events no channel took."""
    from app.alerts import channel_names, run_alerts
    from app.findings_state import StateError
    from app.services import build_services
    from core.changes.base import ChangeError
    from core.snowflake.connect import connector_source
    from core.snowflake.queries import QueryError

    settings = existing_workspace(args.workspace, "snowtower alerts")
    try:
        services = build_services(settings)
        if not args.dry_run and not channel_names(services):
            print("snowtower alerts: no notification channel is set up (Slack: notify_slack_webhook_url or a bot token "
                  "and notify_slack_channel; e-mail: notify_smtp_host); nothing was sent", file=sys.stderr)
            return 2
        source = connector_source() if os.environ.get("SNOWFLAKE_ACCOUNT") else services.snowflake_source()
        run = run_alerts(services, source, dry_run=args.dry_run)
    except (QueryError, ChangeError, StateError, ValueError, OSError) as exc:
        print(f"snowtower alerts: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        def event(e, channels=None):
            return {"key": e.key, "source": e.source, "severity": e.severity, "title": e.title,
                    "details": list(e.details)} | ({"channels": channels} if channels is not None else {})
        print(json.dumps({"dry_run": args.dry_run, "sent": [event(e, c) for e, c in run.sent],
                          "would_send": [event(e) for e in run.new], "already_sent": run.already,
                          "failed": [event(e) for e in run.failed], "pending": [event(e) for e in run.pending],
                          "provider_errors": [{"provider": n, "error": r} for n, r in run.errors]}, indent=2))
    else:
        from core.plaintext import one_line as plain  # titles name the account's users, warehouses and budgets

        for e, channels in run.sent:
            print(f"sent     {e.severity:<9}{plain(e.title, 300)}  via {', '.join(channels)}")
        for e in run.new:
            print(f"would send {e.severity:<9}{plain(e.title, 300)}")
        for e in run.failed:
            print(f"failed   {e.severity:<9}{plain(e.title, 300)}: no channel took it (see the log); the next run tries again")
        for name, reason in run.errors:
            print(f"provider {name} failed: {plain(reason, 500)}", file=sys.stderr)
        print(f"{len(run.sent)} sent, {len(run.new)} would be sent, {len(run.already)} sent before"
              + (f", {len(run.pending)} left for the next run" if run.pending else ""))
    if run.failed or run.errors:
        return 2
    return 1 if run.sent or run.new or run.pending else 0


def cmd_hygiene(args) -> int:
    """Config hygiene from the YAML alone (core.findings.hygiene): exit 0 clean, 1 findings, 2 usage."""
    from core.findings.hygiene import hygiene
    from core.snowddl.config_loader import load_config

    path = Path(args.dir)
    if not path.is_dir():
        print(f"snowtower hygiene: {path} is not a folder", file=sys.stderr)
        return 2
    if args.long_auto_suspend < 1:
        raise UsageError("--long-auto-suspend must be a positive number of seconds")
    loaded = load_config(path, args.env_prefix or "")
    if not loaded.validation.valid:
        # Why: findings of a config SnowDDL only partly read would call a broken config clean.
        errors = loaded.validation.errors
        for p in sorted(errors, key=lambda p: bool(p.knock_on))[:10]:  # causes before knock-ons
            where = ":".join(str(x) for x in (p.file, p.line) if x) or "config"
            print(f"snowtower hygiene: {where}: {p.message}", file=sys.stderr)
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        print(f"snowtower hygiene: {path} is not a valid SnowDDL config: {len(errors)} error(s){more}; "
              f"fix them first (snowtower validate {path})", file=sys.stderr)
        return 2
    try:
        findings = hygiene(loaded, args.long_auto_suspend)
    except ValueError as exc:
        print(f"snowtower hygiene: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps({"clean": not findings, "findings": [f.to_dict() for f in findings]}, indent=2))
    else:
        for f in findings:
            fix = f" (fix: {f.fix.recipe})" if f.fix else ""
            print(f"{f.severity:<7}{f.code}  {f.object}: {f.message}{fix}")
        print(f"{path}: {'clean' if not findings else f'{len(findings)} finding(s)'}")
    return 1 if findings else 0


def cmd_serve(args) -> int:
    from app.settings import SettingsError, inspect_settings, portal_secrets

    # The settings the portal will see: its .streamlit/secrets.toml counts (it may make the workspace production).
    settings, problems = inspect_settings(args.workspace, secrets_data=portal_secrets()[0])
    if problems:
        raise SettingsError(problems)
    source = getattr(args, "from_repo", None)
    if not settings.workspace.is_dir() and not source:  # Why: a typo would otherwise start a fresh demo
        raise UsageError(f"no SnowTower workspace at {settings.workspace}: `snowtower serve` serves an existing one "
                         f"(create the folder for a production workspace, start it from your repository with "
                         f"--from PATH|URL, or run `snowtower demo --workspace {settings.workspace}` for the demo).")
    _start_from_repository(settings, source)
    if demo_logins_served(settings):  # the same guard as `snowtower demo`: its logins' password is public
        _demo_address_guard(args.address, args.allow_remote, "a demo workspace (no settings make it production)")
    return _serve(settings.workspace, args.port, args.address, settings)


def _start_from_repository(settings, source: str | None) -> None:
    """`--from PATH|URL`: a new workspace's repo.git is a clone of the team's repository. A production
    workspace of the local backend never starts from the example config (that is the demo's)."""
    from core.workspace import Workspace, clone_workspace

    exists = Workspace(settings.workspace).exists()
    mode = Mode.of(settings)
    if not source and not mode.on_github and settings.config_repo and not exists:
        source = settings.config_repo  # cloned now: a wrong config_repo is said here, not in the first browser
    if source:
        if mode.on_github:
            raise UsageError(f"--from is for the local backend; this workspace uses {settings.backend} "
                             f"({settings.github_repository or 'its repository'}).")
        try:
            clone_workspace(settings.workspace, source, settings.base_branch, settings.config_dir)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(f"  git repository: {Workspace(settings.workspace).repo_path} (cloned from {source})", flush=True)
    elif not mode.is_demo and not mode.on_github and not exists and not settings.config_repo:
        raise UsageError(f"{settings.workspace} has no git repository yet: a production workspace starts from your "
                         "SnowDDL repository. Give it with --from PATH|URL (or the setting config_repo); "
                         "`snowtower demo` is the one that starts from the example config.")


def _serve(workspace: Path, port: int, address: str, settings=None) -> int:
    from portal.errors import error_details
    from app.settings import load_settings

    host = "localhost" if address in ("127.0.0.1", "0.0.0.0", "::") else address
    print(f"  portal: http://{host}:{port}", flush=True)
    env = dict(os.environ, SNOWTOWER_WORKSPACE=str(workspace))
    settings = settings or load_settings(workspace)
    argv = [
        sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "portal" / "app.py"),
        "--server.port", str(port), "--server.address", address,
        # Tracebacks stay in the server's log outside the demo (the entry script sets it again per run).
        "--client.showErrorDetails", error_details(settings.mode),
    ]
    if settings.base_url_path:  # behind a reverse proxy at https://HOST/PATH (docs/deploy.md)
        argv += ["--server.baseUrlPath", settings.base_url_path]
    from app.paths import SOURCE_CHECKOUT

    if SOURCE_CHECKOUT:
        os.chdir(REPO_ROOT)  # Streamlit reads .streamlit/config.toml (and secrets.toml) from the working folder
    else:  # installed: the bundled config.toml as flags; the working folder (its .streamlit/secrets.toml) stays
        argv[4:4] = _streamlit_config_flags()
    os.execvpe(sys.executable, argv, env)
    return 0  # not reached


def _streamlit_config_flags() -> list[str]:
    """The bundled .streamlit/config.toml as `--section.option value` flags of `streamlit run`: an
    installed portal keeps its look and headless server whatever folder it is served from."""
    import tomllib

    from app.paths import STREAMLIT_CONFIG

    flags: list[str] = []
    for section, options in tomllib.loads(STREAMLIT_CONFIG.read_text(encoding="utf-8")).items():
        for option, value in options.items():
            flags += [f"--{section}.{option}", str(value).lower() if isinstance(value, bool) else str(value)]
    return flags


def cmd_users(args) -> int:
    from app.identity import UsersFileError, read_users, system_actor
    from app.operations.logins import SaveLogin, UpdateLogin
    from app.operations.unlock_login import UnlockLogin
    from app.services import login_services
    from app.settings import load_settings
    from core.changes.base import ChangeError

    # `users list` only reads: a missing workspace is an error, never a new one.
    settings = existing_workspace(args.workspace, "snowtower users list", needs_repository=False) if args.action == "list" else load_settings(args.workspace)
    services = login_services(settings)
    path = services.workspace.auth_path
    # Whoever can run this on the server holds the workspace: the operator acts as the job snowtower-cli
    # (roles from code), and the audit record names their account on this machine.
    operator = system_actor("snowtower-cli")
    by = f" (by {getpass.getuser()} on the command line)"
    if args.action == "list":
        if services.settings.auth != "local":  # the same answer the login operations give (app.operations.logins)
            raise UsageError(f"logins are managed by the identity provider here (auth = {services.settings.auth}), "
                             "not by SnowTower.")
        try:
            users = read_users(path, "demo")["credentials"]["usernames"]
        except UsersFileError as exc:
            raise UsageError(str(exc)) from None
        status = services.lockout().status()
        for login, entry in sorted(users.items()):
            failures, until = status.get(login, (0, None))
            lock = f"LOCKED until {until:%Y-%m-%d %H:%M} UTC" if until else (f"{failures} failed sign-in(s)" if failures else "")
            roles = ",".join(entry["stored_roles"]) or "(no role: cannot sign in)"
            if entry["disabled"]:
                roles = f"DISABLED ({roles})"
            print(f"{login:20} {roles:32} {lock}".rstrip())
        return 0
    login = args.login.strip().lower()
    try:
        if args.action == "unlock":
            cleared = UnlockLogin(services, operator, login, by=by).execute()
            print(f"{login}: {'unlocked; failed sign-ins forgotten' if cleared else 'was not locked (no failed sign-ins)'}")
        elif args.action == "add":
            if args.password_stdin:
                line = sys.stdin.readline()
                if not line:  # end of input: a script that piped nothing
                    raise UsageError("no password on standard input (--password-stdin reads one line); nothing was written")
                password = line.rstrip("\n")
            else:
                try:
                    password = getpass.getpass(f"Password for {args.login}: ")
                    again = getpass.getpass("Again: ")
                except (EOFError, KeyboardInterrupt):  # no terminal (a script, a CI job) or Ctrl-C/Ctrl-D
                    raise UsageError("no password was typed (no terminal?): pipe it with --password-stdin; "
                                     "nothing was written") from None
                if again != password:
                    raise UsageError("the two passwords differ; nothing was written")
            SaveLogin(services, operator, args.login, password, args.role or [], args.name or "", args.email or "", by=by).execute()
            print(f"{login}: saved with role(s) {', '.join(args.role)} in {path}")
        elif args.action == "set-role":
            UpdateLogin(services, operator, login, roles=args.role, by=by).execute()
            print(f"{login}: role(s) now {', '.join(dict.fromkeys(args.role))}; effective at the login's next click")
        else:
            disabled = args.action == "disable"
            UpdateLogin(services, operator, login, disabled=disabled, by=by).execute()
            print(f"{login}: " + ("disabled: cannot sign in, and every action it tries is refused"
                                  if disabled else "enabled again, with the roles it had"))
    except ChangeError as exc:
        raise UsageError(f"{exc} Nothing was written.") from None
    return 0


def _audit_store(workspace):
    """The configured audit log, read-only use: a demo workspace without a database is an error, never made."""
    from app.audit_stores import audit_log_for
    from core.workspace import Workspace

    settings = existing_workspace(workspace, "snowtower audit", needs_repository=False)
    ws = Workspace(settings.workspace)
    if settings.audit_log == "sqlite" and not ws.db_path.is_file():
        raise UsageError(f"there is no audit log in the workspace {ws.root} (nothing ran there yet)")
    return settings, ws, audit_log_for(settings)


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_audit(args) -> int:
    """verify: exit 0 when the chain is intact (and agrees with every anchor), 1 naming the first record
    that breaks it or the anchor it contradicts, 2 when the log, the file or (GitHub backend, without
    --offline) the anchors on GitHub cannot be read. export: the records (with their chain fields) as
    csv or json."""
    from app.audit import AuditError
    from app.audit_export import from_csv, from_json, to_csv, to_json
    from app.audit_record import verify_chain
    from app.audit_anchor import read_anchors
    from core.changes.git import GitRepo

    if args.action == "export":
        if args.since and args.until and args.since > args.until:
            raise UsageError("--since is after --until")
        _, _, log = _audit_store(args.workspace)
        try:
            records = log.records(args.since, args.until)
        except AuditError as exc:
            raise UsageError(str(exc)) from None
        text = to_csv(records) if args.format == "csv" else to_json(records, args.since, args.until)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8", newline="")
            print(f"{len(records)} record(s) written to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return 0
    repo = GitRepo(Path(args.repo)) if args.repo else None
    settings = None
    if args.file:
        try:
            text = Path(args.file).read_bytes().decode("utf-8")  # as written: a \r inside a cell stays one
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {args.file}: {exc}") from None
        try:
            records = from_json(text) if text.lstrip().startswith("{") else from_csv(text)
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{args.file} is not a SnowTower audit export: {exc}") from None
        where = args.file
    else:
        settings, ws, log = _audit_store(args.workspace)
        if repo is None and not Mode.of(settings).on_github and (ws.repo_path / "HEAD").is_file():
            repo = GitRepo(ws.repo_path)  # the local backend's repository holds the anchors
        try:
            records = log.records()
        except AuditError as exc:
            raise UsageError(str(exc)) from None
        where = "the audit log"
    try:
        anchors = read_anchors(repo) if repo is not None else {}
    except Exception as exc:  # noqa: BLE001 - git's own message
        raise UsageError(f"cannot read the anchors in {args.repo or 'the workspace repository'}: {exc}") from None
    unchecked = ""
    if settings is not None and Mode.of(settings).on_github and repo is None:
        # The anchors are commit statuses on the merged commits (app.audit_anchor); the chain alone cannot
        # show a log rewritten from scratch, so without them the check is incomplete and says so.
        if args.offline:
            unchecked = "; the anchors on GitHub were not checked (--offline)"
        else:
            import requests
            from github import GithubException

            from core.changes.base import ChangeError

            try:
                anchors, commits = _github_anchors(settings, ws, records)
            except (ChangeError, ValueError, OSError, GithubException, requests.RequestException) as exc:
                # GitHub unreachable or refusing, or its settings incomplete (SettingsError is a ValueError)
                detail = " ".join(str(exc).split())[:300] or type(exc).__name__
                report = verify_chain(records)
                print(f"{where}: {report.message()}")
                if not report.ok:
                    return 1
                print(f"the anchors on GitHub could not be read ({detail}): the chain is intact, but a log rewritten "
                      "from scratch is not ruled out. Run again when GitHub can be reached, or with --offline to "
                      "check the chain alone.", file=sys.stderr)
                return 2
            unchecked = f"; {len(anchors)} anchor(s) checked on {commits} merged commit(s) on GitHub"
    report = verify_chain(records, partial=bool(args.file), anchors=anchors)
    anchored = f"; {len(anchors)} anchor(s) checked" if anchors and not unchecked else ""
    print(f"{where}: {report.message()}{anchored}{unchecked if report.ok else ''}")
    return 0 if report.ok else 1


def _github_anchors(settings, ws, records):
    """The anchors on GitHub (app.audit_anchor.read_github_anchors) for `records`: on every merged commit
    of the portal's pull requests, and on every commit a merge record of the log names."""
    from app.audit_record import OK
    from app.audit_anchor import read_github_anchors
    from app.services import build_github

    commits = [r.commit_after for r in records if r.action == "merge" and r.outcome == OK and r.commit_after]
    return read_github_anchors(build_github(settings, ws), commits)


def cmd_check(args) -> int:
    """Every missing or wrong item of the setup, one line each, from every source the portal reads (its
    .streamlit/secrets.toml included), and what the mode needs (app.settings.check_setup: the same list the
    portal's settings page shows); exit 1. Else "ok" and the effective settings, secrets masked. --online
    also reaches GitHub and Snowflake (app.probe, bounded by --timeout). Exit 2: no such workspace."""
    from app.settings import DEFAULT_WORKSPACE, check_setup, portal_secrets, summary

    if not 1 <= args.timeout <= 120:
        raise UsageError("--timeout must be between 1 and 120 seconds")
    secrets, secret_problems = portal_secrets()
    settings, problems = check_setup(args.workspace, secrets=secrets)
    problems = secret_problems + problems
    root = Path(args.workspace or os.environ.get("SNOWTOWER_WORKSPACE") or DEFAULT_WORKSPACE).expanduser().resolve()
    if not (settings is not None and Mode.of(settings).in_sis) and not root.is_dir():  # read-only: never creates one
        raise UsageError(f"no SnowTower workspace at {root} (give --workspace or SNOWTOWER_WORKSPACE; "
                         f"`snowtower demo --workspace {root}` creates a demo one, docs/deploy.md a production one).")
    for problem in problems:
        print(f"error   {problem}" + ("" if problem.blocking else " (the portal starts without it)"))
    failed = 0
    if args.online and settings is not None:
        from app.probe import probe

        for found in probe(settings, secrets, float(args.timeout)):
            failed += not found.ok
            print(f"{'online ' if found.ok else 'error  '} {found.name}: {found.detail}")
    if problems or failed:
        print(f"{len(problems) + failed} problem(s) in SnowTower's settings (docs/settings.md describes every setting)")
        return 1
    print("ok")
    width = max(len(name) for name, _ in summary(settings))
    for name, value in summary(settings):
        print(f"  {name.ljust(width)}  {value}")
    return 0


def cmd_notify(args) -> int:
    """`notify deployed --pr N` (the merge-deploy workflow, after it deployed): tell the notification
    channels. Exit 0 sent or nothing to send (a failed delivery is logged: best effort), 1 GitHub does not
    vouch for it as a merged SnowTower request (nothing sent), 2 usage or GitHub unreachable."""
    import logging

    import requests
    from github import GithubException

    from app.notifications.deployed import notify_deployed
    from app.settings import SettingsError, load_settings
    from core.changes.base import ChangeError
    from core.changes.github.deployed import NotDeployable

    if args.pr < 1:
        raise UsageError("--pr must be a pull request number (1 or more)")
    log = logging.getLogger("snowtower.notifications")
    if not any(getattr(h, "snowtower_cli", False) for h in log.handlers):  # each delivery's result, on stderr
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        handler.snowtower_cli = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        event = "request_deploy_failed" if args.event == "deploy-failed" else "request_deployed"
        notice = notify_deployed(load_settings(args.workspace), args.pr, event=event)
    except NotDeployable as exc:
        print(f"snowtower notify: {exc} Nobody was told.", file=sys.stderr)
        return 1
    except ChangeError as exc:  # the GitHub settings cannot work
        print(f"snowtower notify: {exc} Nobody was told.", file=sys.stderr)
        return 2
    except SettingsError:
        raise  # main() prints every problem
    except ValueError as exc:  # the GitHub settings are missing
        raise UsageError(str(exc)) from None
    except GithubException as exc:
        print(f"snowtower notify: GitHub answered {exc.status} reading #{args.pr}; nobody was told.", file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"snowtower notify: GitHub could not be reached ({type(exc).__name__}); nobody was told.", file=sys.stderr)
        return 2
    for note in notice.notes:
        print(f"snowtower notify: {note}")
    if notice.channels:
        print(f"snowtower notify: #{notice.number} {'deploy failed' if args.event == 'deploy-failed' else 'deployed'}: "
              f"told {', '.join(notice.channels)} "
              "(each delivery's result is logged above)")
    if not notice.finished:
        # Why: a receiver that keeps the connection open must not hold the deploy job; the pool's threads
        # are joined at exit, so leave without them (the deployment itself is done).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def cmd_deploy(args) -> int:
    """`snowtower deploy`: the merge-deploy workflow's deployment (app/jobs/deploy.py)."""
    from app.jobs import deploy

    return deploy.main(args)


def cmd_init(args) -> int:
    """Set up an existing SnowDDL repository: a local clone (files written) or GitHub (a pull request)."""
    from app import repo_init
    from core.changes.base import ChangeError

    pin = args.pin or version()
    target = args.target
    try:
        repository, base_url = ("", "") if Path(target).exists() else repo_init.github_target(target)
        if not repository:
            if not Path(target).exists():
                raise UsageError(f"{target} is neither a folder nor a GitHub repository (OWNER/NAME or its URL)")
            plan = repo_init.init_local(Path(target), pin, config_dir=args.config_dir, base_branch=args.base_branch,
                                        force=args.force)
            where = "written"
        else:
            token = os.environ.get("SNOWTOWER_GITHUB_TOKEN") or os.environ.get("GITHUB_TOKEN") or ""
            result = repo_init.init_github(repository, args.github_base_url or base_url, token, pin,
                                           config_dir=args.config_dir, base_branch=args.base_branch)
            if isinstance(result, repo_init.InitPlan):
                print(f"{repository} is already set up for SnowTower {pin}: nothing to change.")
                return 0
            if result.resumed:
                print(f"pull request #{result.number} of an earlier `snowtower init` is open: {result.url}\n"
                      "Merge or close it before running init again.")
                return 0
            plan, where = result.plan, f"proposed in pull request #{result.number}: {result.url}"
    except repo_init.InitError as exc:
        print(f"snowtower init: {exc}", file=sys.stderr)
        return 1
    except ChangeError as exc:
        print(f"snowtower init: {exc}", file=sys.stderr)
        return 2
    print(f"SnowDDL config folder: {plan.config_dir or '.'}; base branch: {plan.base_branch}; "
          f"workflows install snowtower=={pin}")
    for rel in plan.files:
        print(f"  {rel}" + ("  (replaced)" if rel in plan.conflicts else ""))
    for rel in plan.unchanged:
        print(f"  {rel}  (unchanged)")
    print(f"{len(plan.files)} file(s) {where}." if plan.files else "Nothing to change: every file is up to date.")
    if plan.files:
        print("Next: the workflows' environments and secrets (docs/github.md), the label access-request on GitHub; "
              "snowtower.toml goes into the portal's workspace as settings.toml.")
    return 0


class _VersionAction(argparse.Action):
    """--version, looked up only when asked (importlib.metadata stays out of every other command's start)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"snowtower {version()}")
        parser.exit()


def version() -> str:
    """The installed distribution's version (pyproject.toml's, as built into the wheel or the editable install)."""
    from importlib import metadata

    try:
        return metadata.version("snowtower")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _recipe_names() -> list[str]:
    from recipes import RECIPES

    return sorted(RECIPES)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; `command` (the subcommand being run, if known) lets the others' heavy imports wait:
    the recipe names in `request`'s help load SnowDDL, so they are listed only for `snowtower request`."""
    parser = argparse.ArgumentParser(prog="snowtower", description="Self-service Snowflake access, reviewed as code.")
    parser.add_argument("--version", action=_VersionAction, help="print the installed release and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="create or reuse the demo workspace and serve the portal")
    p.add_argument("--workspace", default=os.environ.get("SNOWTOWER_WORKSPACE") or str(DEFAULT_WORKSPACE))
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1", help="interface to listen on (0.0.0.0 for all: needs --allow-remote)")
    p.add_argument("--allow-remote", action="store_true",
                   help="serve the demo beyond localhost although its logins' password is public")
    p.add_argument("--query-rows", type=int, default=None, metavar="N",
                   help="(re)generate the demo account with N QUERY_HISTORY rows (default: keep it; new: 100,000)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve the portal with the configured backends")
    p.add_argument("--workspace", default=None)
    p.add_argument("--from", dest="from_repo", metavar="PATH|URL", help="local backend: start a new workspace's git "
                   "repository as a clone of your SnowDDL repository (see also the setting config_repo)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1", help="interface to listen on (beyond localhost a demo "
                   "workspace needs --allow-remote)")
    p.add_argument("--allow-remote", action="store_true",
                   help="serve a demo workspace beyond localhost although its logins' password is public")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("init", help="set up an existing SnowDDL repository (a folder, or GitHub OWNER/NAME or URL: "
                       "a pull request): workflows, issue form, snowtower.toml")
    p.add_argument("target", nargs="?", default=".", help="the repository: a local folder (default .), OWNER/NAME or "
                   "its GitHub URL (needs SNOWTOWER_GITHUB_TOKEN or GITHUB_TOKEN)")
    p.add_argument("--config-dir", default=None, help="the SnowDDL config folder in the repository (default: found)")
    p.add_argument("--base-branch", default=None, help="the branch that holds the deployed config (default: the "
                   "repository's default branch)")
    p.add_argument("--pin", default=None, metavar="VERSION", help="the SnowTower release the workflows install "
                   "(default: this one)")
    p.add_argument("--github-base-url", default=None, help="GitHub Enterprise Server's API, https://HOST/api/v3 "
                   "(default: from the URL, or api.github.com)")
    p.add_argument("--force", action="store_true", help="local: replace existing files that differ")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("users", help="the portal's logins: add|set-role|disable|enable|unlock|list")
    users = p.add_subparsers(dest="action", required=True)
    u = users.add_parser("add", help="add a login or replace its password and roles (asks for the password)")
    u.add_argument("login")
    u.add_argument("--role", action="append", choices=["requester", "approver", "admin"], required=True,
                   help="repeat for several roles")
    u.add_argument("--name", help="full name shown in the portal")
    u.add_argument("--email")
    u.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    u = users.add_parser("set-role", help="replace a login's roles (effective at its next click)")
    u.add_argument("login")
    u.add_argument("--role", action="append", choices=["requester", "approver", "admin"], required=True,
                   help="repeat for several roles")
    u = users.add_parser("disable", help="stop a login: it cannot sign in, and every action it tries is refused")
    u.add_argument("login")
    u = users.add_parser("enable", help="let a disabled login sign in again, with the roles it had")
    u.add_argument("login")
    u = users.add_parser("list", help="logins, roles and lock-out state")
    u = users.add_parser("unlock", help="lift a login's sign-in lock-out and forget its failed attempts")
    u.add_argument("login")
    for u in users.choices.values():
        u.add_argument("--workspace", default=None, help="the workspace (default $SNOWTOWER_WORKSPACE or ~/.snowtower/demo)")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("audit", help="the audit log: verify its hash chain (exit 1 naming the first broken record) "
                                     "or export it for auditors")
    audit = p.add_subparsers(dest="action", required=True)
    a = audit.add_parser("verify", help="check the chain of the audit log (or of an export, --file): exit 0 intact, "
                                        "1 broken (the first record that breaks it is named), 2 unreadable")
    a.add_argument("--file", help="an export (csv or json, from `snowtower audit export`) instead of the log")
    a.add_argument("--repo", help="a config repository whose anchors (git notes refs/notes/snowtower-audit) to check "
                                  "(default with the log: the workspace's repository, or with the GitHub backend "
                                  "the commit statuses snowtower/audit on GitHub)")
    a.add_argument("--offline", action="store_true",
                   help="with the GitHub backend: check the chain alone, without reading the anchors on GitHub")
    a = audit.add_parser("export", help="the records with their chain fields, oldest first, for `audit verify --file`")
    a.add_argument("--since", type=_date, help="first day (UTC, YYYY-MM-DD, inclusive)")
    a.add_argument("--until", type=_date, help="last day (UTC, YYYY-MM-DD, inclusive)")
    a.add_argument("--format", choices=["csv", "json"], default="json",
                   help="json (default) or csv (cells a spreadsheet would run are prefixed with ')")
    a.add_argument("--output", help="write to this file (default: standard output)")
    for a in audit.choices.values():
        a.add_argument("--workspace", default=None, help="the workspace (default $SNOWTOWER_WORKSPACE or ~/.snowtower/demo)")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("check", help="check the settings: every problem (exit 1), or ok and the effective settings")
    p.add_argument("--workspace", default=None, help="the workspace (default $SNOWTOWER_WORKSPACE or ~/.snowtower/demo)")
    p.add_argument("--online", action="store_true", help="also reach GitHub and Snowflake with the configured credentials")
    p.add_argument("--timeout", type=int, default=10, metavar="SECONDS", help="--online gives up after this long (default 10)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("validate", help="validate a SnowDDL config folder (exit 0 valid, 1 invalid, 2 usage)")
    p.add_argument("dir", nargs="?", default="snowddl")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--env-prefix", default="")
    p.add_argument("--placeholder-values", help="JSON object overriding placeholder.yaml, as snowddl's option")
    p.add_argument("--run-custom-python", action="store_true", help=_RUN_CUSTOM_HELP)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="the DDL SnowDDL would run from --base to --head (offline), or against the account (--live)")
    p.add_argument("--base", help="base config: a folder, or a git ref of the repository holding --head")
    p.add_argument("--head", default="snowddl", help="head config folder (default: ./snowddl)")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--live", action="store_true", help="plan against the Snowflake account (SNOWFLAKE_* variables)")
    p.add_argument("--run-custom-python", action="store_true", help=_RUN_CUSTOM_HELP)
    p.add_argument("--env-prefix", default="")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("cost", help="warehouse credits and money, month-end forecast and anomalous days")
    p.add_argument("--days", type=int, default=30, help="days up to the account's last day of metering (default 30)")
    p.add_argument("--format", choices=["text", "json", "csv"], default="text")
    p.add_argument("--workspace", default=None, help="demo workspace (without SNOWFLAKE_ACCOUNT set)")
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("security", help="the security page's findings, CIS checks and health scores (exit 0 none, "
                       "1 findings, 2 usage)")
    p.add_argument("--days", type=int, default=90, help="days of logins up to the account's last complete day (default 90)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--workspace", default=None, help="demo workspace (without SNOWFLAKE_ACCOUNT set)")
    p.set_defaults(func=cmd_security)

    p = sub.add_parser("alerts", help="send each new critical or high finding (and other alert events) once through the "
                       "notification plugins (exit 0 nothing new, 1 sent, 2 usage or a failure)")
    p.add_argument("--workspace", default=None, help="the workspace whose records remember what was sent")
    p.add_argument("--dry-run", action="store_true", help="list what would be sent; send and record nothing")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("hygiene", help="config hygiene from the YAML alone (exit 0 clean, 1 findings, 2 usage)")
    p.add_argument("dir", nargs="?", default="snowddl")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--long-auto-suspend", type=int, default=600, help="auto-suspend above this many seconds is a finding (default 600)")
    p.add_argument("--env-prefix", default="")
    p.set_defaults(func=cmd_hygiene)

    p = sub.add_parser("expire", help="time-bound grants that ended (or end soon) and stale users; --submit opens "
                       "one revoke or offboard request each (exit 0 done, 1 a request failed, 2 usage)")
    p.add_argument("--within", type=int, default=0, metavar="DAYS", help="also list grants ending within DAYS days")
    p.add_argument("--submit", action="store_true", help="open the requests (as the snowtower-expiry system actor)")
    p.add_argument("--stale-days", type=int, default=None, metavar="DAYS",
                   help="no login for DAYS days proposes offboarding (default: setting expiry_stale_days; 0: off)")
    p.add_argument("--workspace", default=None, help="the SnowTower workspace (default: SNOWTOWER_WORKSPACE or ~/.snowtower/demo)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_expire)

    p = sub.add_parser("access-review", help="access reviews with usage evidence: start a campaign, its status, "
                       "its report (exit 0 done, 1 refused, 2 usage); remind: each reviewer once a day (exit 0 nothing "
                       "new, 1 sent, 2 no channel or a failure)")
    p.add_argument("action", choices=("start", "status", "report", "remind"))
    p.add_argument("--id", type=int, default=None, help="the campaign (status, report); status without it lists all")
    p.add_argument("--scope", default="all", help="start: all, admin, database:NAME or role:NAME (default all)")
    p.add_argument("--deadline", default="", help="start: the last day to decide, YYYY-MM-DD")
    p.add_argument("--name", default="", help="start: the campaign's name")
    p.add_argument("--days", type=int, default=None, help="start: unused after DAYS days (default: setting access_unused_days)")
    p.add_argument("--dry-run", action="store_true", help="remind: list the reminders that would go; send and record nothing")
    p.add_argument("--format", choices=("text", "csv", "json"), default="text")
    p.add_argument("--workspace", default=None, help="the SnowTower workspace (default: SNOWTOWER_WORKSPACE or ~/.snowtower/demo)")
    p.set_defaults(func=cmd_access_review)

    p = sub.add_parser("notify", help="send a notification from a workflow: notify deployed --pr N")
    notify = p.add_subparsers(dest="event", required=True)
    n = notify.add_parser("deployed", help="tell the notification channels that merge-deploy deployed pull request N "
                          "(exit 0 sent or nothing to send, 1 not a merged SnowTower request, 2 usage or GitHub unreachable)")
    n.add_argument("--pr", type=int, required=True, metavar="N", help="the merged pull request")
    n.add_argument("--workspace", default=None, help="the workspace whose settings.toml to read (optional: the "
                   "environment's SNOWTOWER_* settings suffice)")
    n = notify.add_parser("deploy-failed", help="tell the admins' channels that merge-deploy could not deploy pull "
                          "request N (or its verification failed); exit codes as `notify deployed`")
    n.add_argument("--pr", type=int, required=True, metavar="N", help="the merged pull request")
    n.add_argument("--workspace", default=None, help="the workspace whose settings.toml to read (optional)")
    p.set_defaults(func=cmd_notify)

    p = sub.add_parser("deploy", help="merge-deploy's deployment: apply the head of the branch, account for every pull "
                       "request merged since the last deployment (exit 0 done or refused, 1 apply or verification "
                       "failed, 2 usage or nothing could be read)")
    p.add_argument("--sha", default=os.environ.get("GITHUB_SHA"), help="the run's commit (default $GITHUB_SHA)")
    p.add_argument("--branch", default="main", help="the default branch (default main)")
    p.add_argument("--config", default="snowddl", help="the config folder in the checkout (default snowddl)")
    p.add_argument("--git-dir", default=".git", help="the checkout's git directory, with the branch's history")
    p.add_argument("--repository", default=None, help="OWNER/NAME (default $GITHUB_REPOSITORY)")
    p.add_argument("--required", type=int, default=1, help="approvals an unsafe change needs (default 1)")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("revert", help="the revert request of a merged change whose deployment failed (urgent, "
                       "reviewed like any request; exit 0 opened or covered, 1 refused, 2 usage)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--pr", type=int, metavar="N", help="the merged pull request (GitHub mode)")
    which.add_argument("--request", type=int, metavar="N", help="the merged request (local backend)")
    p.add_argument("--submit", action="store_true", help="open it (as the snowtower-deploy system actor)")
    p.add_argument("--workspace", default=None, help="the workspace (default $SNOWTOWER_WORKSPACE or ~/.snowtower/demo)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_revert)

    p = sub.add_parser("request", help="preview (or --submit) a request from the command line")
    p.add_argument("recipe", help="one of: " + (", ".join(_recipe_names()) if command in (None, "request")
                                                else "(see snowtower request --help)"))
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a field; list fields are comma-separated")
    p.add_argument("--set-file", action="append", metavar="FIELD=PATH", help="a field read from a file (e.g. the public key)")
    p.add_argument("--config", default="snowddl", help="config folder to preview against (default: ./snowddl)")
    p.add_argument("--submit", action="store_true", help="open the change request on the configured backend")
    p.add_argument("--workspace", default=None, help="with --submit: the workspace (default $SNOWTOWER_WORKSPACE or ~/.snowtower/demo)")
    p.add_argument("--github-author", default=None, metavar="LOGIN",
                   help="with --submit: the requester is this GitHub login, vouched for by a workflow (default "
                        "$SNOWTOWER_GITHUB_AUTHOR); it requests as github:LOGIN unless github_users or github_approvers "
                        "maps it to a portal user")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--env-prefix", default="")
    p.set_defaults(func=cmd_request)
    return parser


def _closed_pipe() -> int:
    """The reader of stdout went away (`snowtower validate --format json | head -1`): end quietly, as a
    command ended by SIGPIPE does (exit 141), without Python's BrokenPipeError traceback. What is left in
    stdout's buffer goes to /dev/null, so the interpreter's own flush at exit finds nothing to fail on
    (the Python documentation's advice, "Note on SIGPIPE" in the signal module)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((a for a in argv if not a.startswith("-")), ""))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and 2
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that went away (`| head -1`) shows here, not as a traceback at exit
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except UsageError as exc:
        print(f"snowtower {args.command}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        settings = sys.modules.get("app.settings")  # not imported by --help: pydantic stays unloaded
        if settings is None or not isinstance(exc, settings.SettingsError):
            raise
        # Every problem, one line each (as `snowtower check` prints them).
        print(f"snowtower {args.command}: {exc}\n(`snowtower check` lists the same; docs/settings.md describes "
              "every setting)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
