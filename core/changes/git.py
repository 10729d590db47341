"""A real git repository driven through git's plumbing: no working tree is ever checked out.

Commits are built in a private index file, branches move with compare-and-swap (`update-ref NEW OLD`),
so two writers can never silently overwrite each other.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Callable

from core.changes.base import ChangeError



def extract_tree(data: bytes, dest: Path, place: Callable[[str], str | None] | None = None) -> Path:
    """Extract the tar archive `data` into the folder `dest`, atomically: a finished folder or none (it is
    written beside `dest` and renamed; if another thread or process finished `dest` first, theirs is kept).
    `place(member name) -> name inside dest, or None to leave the member out` (default: every member as
    named). Only data members are extracted (tarfile's "data" filter: no links out, no devices)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=dest.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
            if place is not None:
                kept = []
                for m in members:
                    name = place(m.name)
                    if name is not None:
                        m.name = name
                        kept.append(m)
                members = kept
            tar.extractall(tmp, members=members, filter="data")
        try:
            tmp.rename(dest)
        except OSError:  # another thread or process exported the same commit first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest

class GitError(RuntimeError):
    pass


class RefMoved(GitError):
    """A ref was not where the caller expected it (someone else moved it first)."""


class RefLocked(GitError, ChangeError):
    """Another process holds the ref's lock file right now; the message is for the user."""


# git holds a ref's lock file ("<ref>.lock") for the milliseconds of one update. One older than this was
# left by a process killed in the middle of an update (kill -9 of its process group, a power cut).
STALE_LOCK_SECONDS = 60.0


def _refuse_clashes(changes: list[tuple[str, str | None]], present) -> None:
    """GitError for a path `update-index --index-info` would misread or silently settle: a NUL in it (the
    entries' separator: the rest would be read as another entry, of any mode and object), or a file written
    where the commit also has a folder of that name (a/b beside a/b/c: --index-info always replaces, so one
    of them would be dropped without a word)."""
    for rel, _ in changes:
        if "\0" in rel:
            raise GitError(f"invalid path {rel!r}: a NUL character")
    final = (set(present) - {rel for rel, text in changes if text is None} - {""}) | {rel for rel, text in changes if text is not None}
    folders = {p[:i] for p in final for i, ch in enumerate(p) if ch == "/"}
    clash = sorted(final & folders)
    if clash:
        raise GitError(f"'{clash[0]}' would be both a file and a folder")


class GitRepo:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def init_bare(cls, path: str | Path, branch: str = "main") -> "GitRepo":
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--bare", "--quiet", f"--initial-branch={branch}", str(path)], check=True)
        return cls(path)

    def _env(self, extra: dict | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update({"GIT_DIR": str(self.path), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"})
        env.update(extra or {})
        return env

    def git(self, *args: str, input: bytes | None = None, env: dict | None = None, check: bool = True) -> str:
        proc = subprocess.run(["git", *args], input=input, capture_output=True, env=self._env(env))
        if check and proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode(errors="replace")

    def rev(self, ref: str) -> str | None:
        proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], capture_output=True, env=self._env())
        return proc.stdout.decode().strip() or None

    def branch_head(self, branch: str) -> str | None:
        return self.rev(f"refs/heads/{branch}")

    def commit_files(
        self, parent: str | None, files: dict[str, str | None], message: str, author: tuple[str, str],
        committer: tuple[str, str] = ("SnowTower", "snowtower@localhost"),
    ) -> str:
        """A new commit on top of `parent` where each path gets the given text (None deletes it);
        `author` and `committer` are (name, email).

        At most six git processes whatever the number of files (a seed of 40 files took 80): the texts are written
        to a temporary folder and stored by one `hash-object --stdin-paths --no-filters` (their bytes as
        given: no attribute or line-ending filter applies), and the index gets every entry from one
        `update-index -z --index-info` (NUL-separated, so any path character is taken literally; mode 0
        removes a path). Raises GitError for a path git refuses ("Ignoring path ../x"), a NUL in a path, or a path
        that would be both a file and a folder (a/b and a/b/c, given or in `parent`): --index-info would keep one."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self.git("read-tree", parent, env=env)
            changes = sorted(files.items())
            written = [(rel, text) for rel, text in changes if text is not None]
            _refuse_clashes(changes, self.git("ls-tree", "-r", "-z", "--name-only", parent).split("\0") if parent else ())
            paths = []
            for n, (_, text) in enumerate(written):
                blob_file = Path(tmp) / f"blob-{n}"
                blob_file.write_bytes(text.encode("utf-8"))
                paths.append(str(blob_file))
            blobs = self.git("hash-object", "-w", "--no-filters", "--stdin-paths",
                             input="".join(f"{p}\n" for p in paths).encode()).split() if written else []
            if len(blobs) != len(written):
                raise GitError(f"git hash-object stored {len(blobs)} of {len(written)} files")
            sha_of = dict(zip((rel for rel, _ in written), blobs, strict=True))
            entries = b"".join(
                (f"100644 {sha_of[rel]}\t" if text is not None else f"0 {'0' * 40}\t").encode() + rel.encode("utf-8") + b"\0"
                for rel, text in changes)
            if entries:  # it skips a path git refuses (`..`, `.git`, empty parts) with only a warning: an error here
                proc = subprocess.run(["git", "update-index", "-z", "--index-info"], input=entries, capture_output=True,
                                      env=self._env(env))
                if proc.returncode != 0 or proc.stderr.strip():
                    raise GitError(f"git update-index failed: {proc.stderr.decode(errors='replace').strip()}")
            tree = self.git("write-tree", env=env).strip()
        name, mail = author
        who = {
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": mail,
            "GIT_COMMITTER_NAME": committer[0], "GIT_COMMITTER_EMAIL": committer[1],
        }
        args = ["commit-tree", tree, "-F", "-"] + (["-p", parent] if parent else [])
        return self.git(*args, input=message.encode("utf-8"), env=who).strip()

    def update_ref(self, ref: str, new: str, old: str | None) -> None:
        """Move `ref` to `new` only if it is at `old` (None: only if it does not exist yet)."""
        expected = old if old else "0" * 40
        proc = self._locked_retry(ref, ["update-ref", "-m", "snowtower", ref, new, expected])
        if proc.returncode != 0:
            raise RefMoved(f"{ref} moved or already exists: {proc.stderr.decode(errors='replace').strip()}")

    def _locked_retry(self, ref: str, args: list[str]) -> subprocess.CompletedProcess:
        """Run `git *args` on `ref`. If its lock file is stale (left by a killed process: older than
        STALE_LOCK_SECONDS) it is removed and the command run once more; if it is fresh, RefLocked."""
        proc = subprocess.run(["git", *args], capture_output=True, env=self._env())
        if proc.returncode == 0 or b".lock" not in proc.stderr:
            return proc
        lock = self.path / f"{ref}.lock"
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:  # released meanwhile: the other writer finished
            return subprocess.run(["git", *args], capture_output=True, env=self._env())
        if age < STALE_LOCK_SECONDS:
            raise RefLocked(f"{ref.removeprefix('refs/heads/')} is being changed by another process right now; "
                            "nothing was done. Try again in a moment.")
        lock.unlink(missing_ok=True)
        return subprocess.run(["git", *args], capture_output=True, env=self._env())

    def heads(self, prefix: str = "") -> dict[str, str]:
        """Branch name -> commit, for the branches whose name starts with `prefix`."""
        out = self.git("for-each-ref", "--format=%(objectname) %(refname)", f"refs/heads/{prefix}")
        return {name[len("refs/heads/"):]: sha for sha, name in (line.split(" ", 1) for line in out.splitlines())}

    def is_ancestor(self, old: str, new: str) -> bool:
        """True when commit `old` is `new` or one of its ancestors."""
        proc = subprocess.run(["git", "merge-base", "--is-ancestor", old, new], capture_output=True, env=self._env())
        return proc.returncode == 0

    def author_of(self, sha: str) -> tuple[str, str]:
        """(name, email) of the author of commit `sha`."""
        name, _, mail = self.git("log", "-1", "--format=%an%x1f%ae", sha).strip().partition("\x1f")
        return name, mail

    def delete_ref(self, ref: str, old: str) -> None:
        proc = self._locked_retry(ref, ["update-ref", "-d", ref, old])
        if proc.returncode != 0:
            raise GitError(f"git update-ref failed: {proc.stderr.decode(errors='replace').strip()}")

    def diff(self, a: str, b: str, paths: list[str] | None = None) -> str:
        return self.git("diff", "--no-color", "--no-ext-diff", a, b, "--", *(paths or []))

    def read_text(self, sha: str, rel: str) -> str | None:
        proc = subprocess.run(["git", "cat-file", "blob", f"{sha}:{rel}"], capture_output=True, env=self._env())
        return proc.stdout.decode("utf-8") if proc.returncode == 0 else None

    def export(self, sha: str, subdir: str, dest: Path) -> Path:
        """Write the tree of `subdir` at `sha` to `dest` (atomically: a finished folder or none)."""
        dest = Path(dest)
        if dest.is_dir():
            return dest
        data = subprocess.run(
            ["git", "archive", "--format=tar", f"{sha}:{subdir}" if subdir else sha],
            capture_output=True, env=self._env(), check=True,
        ).stdout
        return extract_tree(data, dest)

    def log(self, ref: str, n: int = 20) -> list[dict]:
        out = self.git("log", f"-{n}", "--format=%H%x1f%an%x1f%aI%x1f%s", ref)
        rows = []
        for line in out.splitlines():
            sha, author, at, subject = line.split("\x1f", 3)
            rows.append({"sha": sha, "author": author, "at": at, "subject": subject})
        return rows
