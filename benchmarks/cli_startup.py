"""How long `snowtower --help` and a light command take from a cold process: what a person (or a CI
step) waits for before anything happens. Target: `snowtower --help` in 0.3 s or less.

    .venv/bin/python benchmarks/cli_startup.py [ROUNDS]

Runs each command ROUNDS times (default 10) in a new Python process, as the console script does, and
prints the median and the slowest wall time in seconds, plus the modules `--help` imports that it
must not (SnowDDL, the Snowflake connector, Streamlit, pandas).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "snowtower --help": ["--help"],
    "snowtower request --help": ["request", "--help"],
    "snowtower users --help": ["users", "--help"],
}
HEAVY = ("snowddl", "snowflake.connector", "streamlit", "pandas", "github", "duckdb")
RUN = "import sys; from portal.cli import main; sys.argv[0] = 'snowtower'; sys.exit(main())"


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, *args], cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def heavy_imports(args: list[str]) -> list[str]:
    probe = (f"import sys; sys.argv = ['snowtower', *{args!r}]\nfrom portal.cli import main\ntry: main()\n"
             f"except SystemExit: pass\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.split("\n")[-2].split() if out.strip() else []


def main(rounds: int = 10) -> None:
    for name, args in COMMANDS.items():
        times = [timed(args) for _ in range(rounds)]
        print(f"{name:28} median {statistics.median(times):.3f} s   slowest {max(times):.3f} s   ({rounds} runs)")
    print("heavy modules imported by `snowtower --help`:", ", ".join(heavy_imports(["--help"])) or "none")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
