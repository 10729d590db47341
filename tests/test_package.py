"""The wheel is the product a platform team installs: built from this checkout, installed with
`pip install` into a virtual environment that holds nothing of the source, it serves the demo (until the
portal's health endpoint answers) and validates the bundled example config.

`snowtower init` of the installed wheel renders its bundled workflow templates into a team's repository.

The venv under test gets the runtime lock (requirements.lock) once, cached in .venv/package-test and
rebuilt when the lock changes; each run installs the freshly built wheel into it with --no-deps and
`pip check` proves the lock satisfies the wheel's own requirements. Nothing of the source tree is on its
path: it runs from a temporary folder with PYTHONPATH unset."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from notify_support import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.package


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWTOWER_", "SNOWFLAKE_", "PYTHON", "VIRTUAL_ENV"))}
    return dict(env, HOME=str(home))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of the checkout (tracked and new files, as git sees them): the build leaves
    nothing in the worktree, and an ignored file (secrets.toml, .venv) cannot slip into the wheel."""
    src = tmp_path_factory.mktemp("src")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        path = ROOT / name
        if path.is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(dist), str(src)], check=True, cwd=dist)
    (built,) = dist.glob("snowtower-*.whl")
    return built


def test_the_wheel_holds_what_the_portal_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert wheel.name == f"snowtower-{version}-py3-none-any.whl"
    wanted = ["portal/app.py", "portal/assets/logo.svg", "core/snowflake/sql/credits_by_role.sql",
              "portal/bundle/.streamlit/config.toml", "portal/bundle/snowddl/user.yaml",
              "portal/bundle/snowddl/ANALYTICS/params.yaml", "portal/bundle/.github/ISSUE_TEMPLATE/access-request.yml"]
    wanted += [f"portal/bundle/pages/{p.name}" for p in (ROOT / "pages").glob("*.py")]
    wanted += [f"portal/bundle/.github/workflows/{p.name}" for p in (ROOT / ".github" / "workflows").glob("*.yml")]
    missing = [n for n in wanted if n not in names]
    assert not missing, missing
    assert f"snowtower-{version}.dist-info/licenses/LICENSE" in names or f"snowtower-{version}.dist-info/LICENSE" in names
    assert not [n for n in names if "secrets.toml" in n or n.startswith(("tests/", "benchmarks/"))]


def test_the_files_deployed_to_streamlit_in_snowflake_find_their_pages(tmp_path):
    """snowflake.yml deploys pages/ beside the packages, without pyproject.toml: the pages are those, not a bundle."""
    for name in ("app", "pages"):
        shutil.copytree(ROOT / name, tmp_path / name)
    found = subprocess.run([sys.executable, "-c", "import app.paths as p; print(p.PAGES_DIR, p.SOURCE_CHECKOUT)"],
                           cwd=tmp_path, env=dict(_clean_env(tmp_path), PYTHONPATH=str(tmp_path)),
                           capture_output=True, text=True, check=True).stdout.split()
    assert found == [str(tmp_path / "pages"), "True"]


def _runtime_venv() -> Path:
    """A venv with requirements.lock installed (no test or deployment tooling), kept between runs."""
    venv = ROOT / ".venv" / "package-test"
    lock = (ROOT / "requirements.lock").read_bytes()
    stamp = venv / ".installed"
    want = hashlib.sha256(lock).hexdigest()
    if stamp.is_file() and stamp.read_text() == want:
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(ROOT / "requirements.lock")],
                   check=True)
    stamp.write_text(want)
    return venv


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    venv = _runtime_venv()
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", "--no-index", str(wheel)], check=True)
    check = subprocess.run([py, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr  # the runtime lock satisfies the wheel's requirements
    return venv


def test_installed_wheel_runs_version_and_validate(installed, tmp_path):
    env = _clean_env(tmp_path)
    snowtower = str(installed / "bin" / "snowtower")
    out = subprocess.run([snowtower, "--version"], cwd=tmp_path, env=env, capture_output=True, text=True)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (out.returncode, out.stdout.strip()) == (0, f"snowtower {version}")
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import app.paths as p; print(p.RESOURCES)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed) and where.endswith("bundle")  # not this checkout
    example = Path(where) / "snowddl"
    out = subprocess.run([snowtower, "validate", str(example)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "valid (0 error(s)" in out.stdout
    broken = tmp_path / "broken"
    shutil.copytree(example, broken)
    (broken / "warehouse.yaml").write_text("ANALYTICS_WH:\n  size: ENORMOUS\n")
    out = subprocess.run([snowtower, "validate", str(broken)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 1 and "INVALID" in out.stdout
    # init renders the bundled workflow templates into a team's repository.
    team = tmp_path / "team"
    shutil.copytree(example, team / "cfg")
    subprocess.run(["git", "init", "-q", "-b", "main", str(team)], check=True)
    out = subprocess.run([snowtower, "init", str(team)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    deploy = (team / ".github" / "workflows" / "merge-deploy.yml").read_text()
    assert f"snowtower=={version}" in deploy and 'paths: ["cfg/**"]' in deploy
    assert (team / ".github" / "ISSUE_TEMPLATE" / "access-request.yml").is_file() and (team / "snowtower.toml").is_file()


def test_installed_wheel_serves_the_demo(installed, tmp_path):
    port = free_port()
    workspace = tmp_path / "ws"
    proc = subprocess.Popen([str(installed / "bin" / "snowtower"), "demo", "--workspace", str(workspace), "--port", str(port),
                             "--query-rows", "1000"], cwd=tmp_path, env=_clean_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    answer = (response.status, response.read().decode())
                    break
            except OSError:
                time.sleep(0.5)
        assert answer == (200, "ok"), f"no health answer; exit {proc.poll()}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200 and "<html" in response.read().decode().lower()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert "SnowTower demo workspace" in output and "Traceback" not in output, output
    assert (workspace / "repo.git" / "HEAD").is_file()  # seeded from the bundled example config
    log = subprocess.run(["git", "--git-dir", str(workspace / "repo.git"), "ls-tree", "-r", "--name-only", "main"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert "snowddl/user.yaml" in log
