"""How long reading SnowTower's metadata out of a hostile GitHub text takes (`metadata.visible` and
`metadata.extract`): anyone with read access can post a review or comment of GitHub's maximum size
(65,536 characters), and the portal reads every review of a request each time it shows its status or
history.

    .venv/bin/python benchmarks/hostile_text.py [--code DIR]

`--code DIR` measures the metadata module of another checkout (e.g. a worktree of main before the fix).
Prints the time per call, in milliseconds, for each hostile shape.
"""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = 65_536  # GitHub's limit for a comment or review body

SHAPES = {
    "spaces between two letters": "x" + " " * (SIZE - 2) + "x",
    "unclosed openings": "<!-- snowtower:review {" * (SIZE // 23),
    "openings closed once at the end": "<!-- snowtower:review {" * (SIZE // 23 - 1) + "} -->",
}


def load(code: Path):
    spec = importlib.util.spec_from_file_location("metadata_under_test", code / "core" / "changes" / "metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT)
    meta = load(parser.parse_args().code)
    for name, text in SHAPES.items():
        for fn in ("visible", "extract"):
            call = (lambda: meta.visible(text)) if fn == "visible" else (lambda: meta.extract(text, meta.REVIEW))
            start = time.perf_counter()
            call()
            print(f"{name:34s} {fn:8s} {1000 * (time.perf_counter() - start):10.1f} ms")


if __name__ == "__main__":
    main()
