"""A GitHub issue form, as GitHub renders it into the issue body, becomes `snowtower request ... --submit`.

GitHub writes each field of an issue form as `### <label>` followed by the answer (`_No response_` when
left empty). The form's labels are the recipe's field labels (.github/ISSUE_TEMPLATE/access-request.yml),
so no mapping table can drift from the recipe.

    python -m portal.issue_form --recipe new-user [--submit] [--format json] < issue-body.md

With --submit the requester is the issue's author, a GitHub login: $SNOWTOWER_GITHUB_AUTHOR (or, as the
workflow set it before, $SNOWTOWER_USER). Either way it is a GitHub login, so it requests as
`github:<login>` unless the settings map that login to a portal user (app.identity.github_name).
"""
from __future__ import annotations

import argparse
import os
import re
import sys

from recipes import RECIPES
from recipes.base import Recipe

NO_RESPONSE = "_No response_"
MAX_BODY = 65_536  # characters: GitHub's own limit for an issue body; anything longer is refused unread


def parse_issue_form(body: str, recipe: Recipe) -> dict[str, str]:
    """Field name -> answer, for the recipe's fields found in the issue body (empty answers left out)."""
    by_label = {f.label.lower(): f for f in recipe.fields}
    values: dict[str, str] = {}
    for label, answer in re.findall(r"^###[ \t]+(.+?)[ \t]*\r?\n(.*?)(?=^###[ \t]|\Z)", body or "", re.M | re.S):
        field = by_label.get(label.strip().lower())
        answer = answer.strip()
        if answer.startswith("```") and answer.endswith("```"):  # a textarea rendered as code
            answer = re.sub(r"^```[a-z]*\r?\n|\r?\n?```$", "", answer).strip()
        if field is None or not answer or answer == NO_RESPONSE:
            continue
        values[field.name] = answer
    return values


def main(argv: list[str] | None = None) -> int:
    from portal.cli import main as snowtower

    parser = argparse.ArgumentParser(prog="python -m portal.issue_form", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="new-user", choices=sorted(RECIPES))
    parser.add_argument("--submit", action="store_true")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--config", default="snowddl")
    args = parser.parse_args(argv)
    body = sys.stdin.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        print(f"issue form: the issue body is longer than {MAX_BODY} characters; nothing was read", file=sys.stderr)
        return 1
    values = parse_issue_form(body, RECIPES[args.recipe])
    sets: list[str] = []
    for name, value in values.items():
        field = RECIPES[args.recipe].field(name)
        if field.is_list:  # one per line or comma-separated in the form
            value = ",".join(v.strip() for v in re.split(r"[,\n]", value) if v.strip())
        sets += ["--set", f"{name}={value}"]
    rest = ["--config", args.config]
    if args.submit:
        author = os.environ.get("SNOWTOWER_GITHUB_AUTHOR") or os.environ.get("SNOWTOWER_USER") or ""
        if not author.strip():
            print("issue form: the issue's author is unknown: set SNOWTOWER_GITHUB_AUTHOR to the issue author's GitHub "
                  "login; nothing was submitted", file=sys.stderr)
            return 2
        rest = ["--submit", "--github-author", author.strip()]
    return snowtower(["request", args.recipe, *sets, *rest, "--format", args.format])


if __name__ == "__main__":
    sys.exit(main())
