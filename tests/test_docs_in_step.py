"""The user documentation follows the code: README.md and docs/cli.md list every command of the CLI's
parser (docs/cli.md every option too) and every recipe of the registry; no internal issue numbers."""
import argparse
import re
from pathlib import Path

import pytest

from portal.cli import build_parser
from recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CLI_MD = (ROOT / "docs" / "cli.md").read_text()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option of a command, of its own subcommands too (`users add --role`)."""
    found = {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
    if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
        for sub in _subcommands(parser).values():
            found |= _options(sub)
    return found


COMMANDS = _subcommands(build_parser())


def test_readme_lists_every_command_of_the_parser():
    table = README.split("Every command (")[1].split("\n\n")[1]
    listed = re.findall(r"^\| `([a-z-]+)` \|", table, re.M)
    assert sorted(listed) == sorted(COMMANDS)


def test_docs_cli_md_has_a_section_for_every_command_naming_every_option():
    headings = re.findall(r"^## `snowtower ([a-z-]+)(.*)$", CLI_MD, re.M)
    assert {name for name, _ in headings} == set(COMMANDS)
    for name, parser in COMMANDS.items():
        text = " ".join(rest for n, rest in headings if n == name)
        missing = {o for o in _options(parser) if o not in text}
        assert missing == set(), f"docs/cli.md: the heading of `snowtower {name}` misses {sorted(missing)}"
    intro = CLI_MD.split("Commands: ")[1].split(";")[0]
    assert sorted(re.findall(r"`([a-z-]+)`", intro)) == sorted(COMMANDS)


def test_readme_and_docs_cli_md_list_every_recipe():
    readme_table = README.split("| page | recipe (CLI name) | what it changes |")[1].split("\n\n")[0]
    in_readme = re.findall(r"`([a-z]+(?:-[a-z]+)+)`", " ".join(re.findall(r"^\s*\| [^|]+ \| ([^|]+) \|", readme_table, re.M)))
    assert sorted(in_readme) == sorted(RECIPES)
    cli_table = CLI_MD.split("| recipe | fields |")[1].split("\n\n")[0]
    assert sorted(re.findall(r"^\| `([a-z-]+)` \|", cli_table, re.M)) == sorted(RECIPES)
    assert f"All {len(RECIPES)} recipes" in README and f"the {len(RECIPES)} recipes" in README
    words = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split()
    assert not re.search(rf"\b({'|'.join(words)}) recipes\b", README + CLI_MD, re.I)


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))])
def test_user_documentation_names_no_internal_issue(doc):
    text = (ROOT / doc if doc == "README.md" else ROOT / "docs" / doc).read_text()
    assert re.findall(r"\b[Ii]ssues? \d+", text) == []


def _literals() -> list[str]:
    """Every string literal of SnowTower's own code, f-strings with `…` where a value goes in."""
    import ast

    out = []
    for folder in ("app", "core", "portal", "pages", "recipes"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    out.append(node.value)
                elif isinstance(node, ast.JoinedStr):
                    out.append("".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values))
    return out


def test_every_message_docs_troubleshooting_quotes_is_one_the_code_shows():
    doc = (ROOT / "docs" / "troubleshooting.md").read_text()
    quoted = [line[2:] for line in doc.splitlines() if line.startswith("> ")]
    assert len(quoted) >= 30
    literals = _literals()
    missing = []
    for message in quoted:
        pieces = [p for p in message.split("…") if p.strip()]
        # each piece in one literal (a message may be built from several, e.g. a rule's text and its key)
        if not all(any(p in text or p.strip() in text for text in literals) for p in pieces):
            missing.append(message)
    assert missing == []
