"""Where SnowTower's own files are, without importing the settings schema (pydantic): the command line's
`--help` stays fast (benchmarks/cli_startup.py)."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "snowddl"
DEFAULT_WORKSPACE = Path("~/.snowtower/demo")
