"""No import side effects, and each CLI command imports only what it needs (the speed itself is
measured by benchmarks/cli_startup.py, numbers in docs/architecture.md)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("snowddl", "snowflake.connector", "streamlit", "pandas", "github", "duckdb", "fakesnow", "pydantic")


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_help_imports_no_heavy_module():
    out = run("import sys; sys.argv = ['snowtower', '--help']\nfrom portal.cli import main\ntry: main()\n"
              f"except SystemExit: pass\nprint('LOADED', *[m for m in {HEAVY!r} if m in sys.modules])")
    assert out.splitlines()[-1] == "LOADED"


def test_importing_the_loader_patches_nothing_until_it_loads():
    out = run("import logging\nfrom snowddl.parser import _parsed_file\noriginal = _parsed_file.ParsedFile.__init__\n"
              "import core.snowddl.config_loader as load\n"
              "print(_parsed_file.ParsedFile.__init__ is original, logging.getLogger('snowddl').level)\n"
              "load.load_config('snowddl')\n"
              "print(_parsed_file.ParsedFile.__init__ is original, logging.getLogger('snowddl').level)")
    assert out.splitlines()[-2:] == ["True 0", f"False {50}"]  # 50: logging.CRITICAL


def test_the_command_line_and_the_jobs_build_the_demo_services_without_streamlit(tmp_path):
    """Streamlit stays in the portal: the command line's entry, the settings, the services of the demo
    (identity, notifications, audit log) and the jobs' module load and run without it in the process."""
    workspace = tmp_path / "ws"
    out = run("import sys\nfrom portal.cli import main\nimport app.jobs.deploy\nfrom app.settings import load_settings\n"
              "from app.services import build_services\n"
              f"services = build_services(load_settings({str(workspace)!r}))\n"
              "print('ROLES', sorted(services.identity.roles_of('admin')), type(services.notifications).__name__)\n"
              "print('LOADED', 'streamlit' in sys.modules, 'streamlit_authenticator' in sys.modules)")
    assert out.splitlines()[-2:] == ["ROLES ['admin', 'approver', 'requester'] Notifier", "LOADED False False"]


def test_a_portal_module_imported_first_reads_the_portals_secrets(tmp_path):
    """The portal's secrets are its settings: a server configured in secrets.toml alone (mode = "production")
    is read as production by whichever portal module a process imports first, never as the demo (the
    default, which admits the demo's logins). The host's ports are filled by portal.ui's import too, not only
    by portal.auth's."""
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[snowtower]\nmode = "production"\n', encoding="utf-8")
    code = ("import portal.ui\nfrom app.settings.load import inspect_settings\n"
            f"settings, _ = inspect_settings({str(tmp_path / 'ws')!r})\nprint('MODE', settings.mode if settings else None)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNOWTOWER_")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "MODE production", out.stderr[-2000:]
