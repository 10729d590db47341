"""docs/settings.md, generated from the schema: `markdown()` (`python -m app.settings --markdown`)."""
from __future__ import annotations

import re

from app.settings.schema import Settings
from app.settings.setup_check import requirements_markdown

def markdown() -> str:
    """docs/settings.md: every key of the schema by group, with its type, default and environment variable."""
    lines = ["# Settings", "",
             "Generated from `app/settings/schema.py` by `python -m app.settings --markdown > docs/settings.md`; a test keeps "
             "it in step with the schema.", "",
             "Sources, highest first: the environment (`SNOWTOWER_<NAME>`), `st.secrets` table `[snowtower]` (when "
             "running in Streamlit; in Streamlit in Snowflake the app's secrets by name, e.g. `github_token`), the "
             "workspace's `settings.toml` table `[snowtower]`, and the app's own `snowtower.toml` (deployed with it "
             "into Streamlit in Snowflake from deploy/snowtower.toml). `snowtower check` and `snowtower serve` read the portal's "
             "`.streamlit/secrets.toml` files as the portal does. An unknown key, a wrong type or a value out of range stops SnowTower with a list "
             "of every problem, naming the key and the source; `snowtower check` prints the same. Secrets are never "
             "printed. Dictionaries are TOML tables (`[snowtower.github_approvers]`) or, in the environment, "
             "`key=value,key2=value2`.", ""]
    lines += requirements_markdown()
    groups: dict[str, list] = {}
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        groups.setdefault(str(extra.get("group", "Other")), []).append((name, info))
    for group, items in groups.items():
        lines += [f"## {group}", "", "| key | type | default | environment | description |", "| --- | --- | --- | --- | --- |"]
        for name, info in items:
            kind = re.sub(r"\btyping\.|<class '([^']+)'>", r"\1", str(info.annotation)).replace("pathlib.", "")
            default = info.default_factory() if info.default_factory else info.default
            shown = "(none)" if default in (None, "") else str(default)
            text = (info.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | `{kind}` | `{shown}` | `SNOWTOWER_{name.upper()}` | {text} |")
        lines.append("")
    return "\n".join(lines)
