"""Build step that pyproject.toml cannot declare: the folders the portal reads at run time but that are
not Python packages (pages/, the example config snowddl/, .streamlit/config.toml, and the workflows and
issue form `snowtower init` writes into a team's repository) are copied into the wheel as
portal/bundle/, laid out as in the repository (app/paths.py finds them there). Everything else is in
pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# (folder or file in the repository, file suffixes taken); the same list feeds MANIFEST.in's sdist.
BUNDLED = [
    ("pages", (".py",)),
    ("snowddl", (".yaml", ".yml", ".md")),
    (".streamlit/config.toml", (".toml",)),
    (".github/workflows", (".yml", ".yaml")),
    (".github/ISSUE_TEMPLATE", (".yml", ".yaml")),
]


class BuildWithBundle(build_py):
    def run(self):
        super().run()
        bundle = Path(self.build_lib) / "portal" / "bundle"
        shutil.rmtree(bundle, ignore_errors=True)
        for name, suffixes in BUNDLED:
            source = ROOT / name
            files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
            for path in files:
                if path.suffix in suffixes and "__pycache__" not in path.parts:
                    target = bundle / path.relative_to(ROOT)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)


setup(cmdclass={"build_py": BuildWithBundle})
