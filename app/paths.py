"""Where SnowTower's own files are, without importing the settings schema (pydantic): the command line's
`--help` stays fast (benchmarks/cli_startup.py).

Two layouts, one rule: RESOURCES is a folder laid out like the repository (pages/, snowddl/,
.streamlit/config.toml, .github/). In a source checkout (an editable install, the files deployed to
Streamlit in Snowflake) it is that folder itself; in an installed wheel it is the package's bundle
(portal/bundle/), copied there at build time by setup.py, so the wheel carries everything the portal
and `snowtower init` need."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the folder holding the app, core, portal and recipes packages
BUNDLE = REPO_ROOT / "portal" / "bundle"
# pages/ beside the packages: a checkout, an editable install, or the files Streamlit in Snowflake is deployed
# from (snowflake.yml's artifacts: no pyproject.toml there); an installed wheel has them in its bundle only.
SOURCE_CHECKOUT = (REPO_ROOT / "pages" / "home.py").is_file()
RESOURCES = REPO_ROOT if SOURCE_CHECKOUT else BUNDLE
EXAMPLE_CONFIG = RESOURCES / "snowddl"
PAGES_DIR = RESOURCES / "pages"
STREAMLIT_CONFIG = RESOURCES / ".streamlit" / "config.toml"
WORKFLOWS_DIR = RESOURCES / ".github" / "workflows"
ISSUE_TEMPLATE_DIR = RESOURCES / ".github" / "ISSUE_TEMPLATE"
DEFAULT_WORKSPACE = Path("~/.snowtower/demo")
