"""GitRepo.commit_files, the one writer of commits in the local backend and the demo's seed: every path gets
exactly the bytes given, None removes a path, and a path git refuses fails the whole commit."""
from __future__ import annotations

import pytest

from core.changes.git import GitError, GitRepo

WHO = ("Riley Requester", "riley@snowtower.example")


@pytest.fixture
def repo(tmp_path):
    return GitRepo.init_bare(tmp_path / "repo.git", "main")


def _tree(repo: GitRepo, commit: str) -> dict[str, bytes]:
    names = [n for n in repo.git("ls-tree", "-r", "-z", "--name-only", commit).split("\0") if n]
    return {n: repo.git("cat-file", "blob", f"{commit}:{n}").encode() for n in names}


def test_every_path_gets_exactly_its_bytes(repo):
    files = {
        "snowddl/user.yaml": "JANE_DOE:\r\n  first_name: Jane\r\n",  # CRLF kept, not normalised
        "snowddl/ü/params.yml": "comment: Zürich\n",
        "snowddl/odd\tname\n.yaml": "x: 1",  # tab and newline in a name are taken literally
        "snowddl/empty.yaml": "",
    }
    commit = repo.commit_files(None, files, "seed\n", WHO)
    assert _tree(repo, commit) == {k: v.encode() for k, v in files.items()}
    assert repo.git("log", "-1", "--format=%an <%ae>|%cn|%B", commit) == "Riley Requester <riley@snowtower.example>|SnowTower|seed\n\n"


def test_a_change_keeps_the_parents_other_files_and_none_removes_one(repo):
    base = repo.commit_files(None, {"a.yaml": "a\n", "b.yaml": "b\n", "c/d.yaml": "d\n"}, "seed\n", WHO)
    head = repo.commit_files(base, {"b.yaml": None, "c/d.yaml": "d2\n", "e.yaml": "e\n", "gone.yaml": None}, "edit\n", WHO)
    assert _tree(repo, head) == {"a.yaml": b"a\n", "c/d.yaml": b"d2\n", "e.yaml": b"e\n"}
    assert repo.git("rev-parse", f"{head}^").strip() == base
    same = repo.commit_files(base, {}, "nothing\n", WHO)
    assert _tree(repo, same) == _tree(repo, base)


@pytest.mark.parametrize("path", ["../evil.yaml", ".git/config", "snowddl//user.yaml", "/etc/user.yaml"])
def test_a_path_git_refuses_fails_the_whole_commit(repo, path):
    base = repo.commit_files(None, {"a.yaml": "a\n"}, "seed\n", WHO)
    repo.update_ref("refs/heads/main", base, None)
    with pytest.raises(GitError, match="git update-index failed"):
        repo.commit_files(base, {"ok.yaml": "fine\n", path: "x\n"}, "bad\n", WHO)
    assert repo.branch_head("main") == base


@pytest.mark.parametrize("files", [
    {"c/d.yaml": "now a file\n"},  # the parent has c/d.yaml/e.yaml
    {"c": "a file where the parent has a folder\n"},
    {"n/m.yaml": "1\n", "n/m.yaml/o.yaml": "2\n"},  # both in one change
])
def test_a_path_that_would_be_both_a_file_and_a_folder_fails_the_whole_commit(repo, files):
    """update-index --index-info replaces a file by a folder of its name (or back) without a word: the commit
    silently lost the folder's files, or one of the two files given."""
    base = repo.commit_files(None, {"a.yaml": "a\n", "c/d.yaml/e.yaml": "e\n"}, "seed\n", WHO)
    with pytest.raises(GitError, match="both a file and a folder"):
        repo.commit_files(base, files, "clash\n", WHO)
    # a folder emptied in the same change may become a file
    head = repo.commit_files(base, {"c/d.yaml/e.yaml": None, "c/d.yaml": "now a file\n"}, "replace\n", WHO)
    assert _tree(repo, head) == {"a.yaml": b"a\n", "c/d.yaml": b"now a file\n"}


def test_a_nul_in_a_path_cannot_add_another_entry(repo):
    """--index-info separates entries by NUL: the rest of such a path was read as one more entry, of any mode
    and any object of the repository (here a symlink to another file's blob)."""
    base = repo.commit_files(None, {"secret.yaml": "private\n"}, "seed\n", WHO)
    blob = repo.git("rev-parse", f"{base}:secret.yaml").strip()
    with pytest.raises(GitError, match="NUL"):
        repo.commit_files(base, {f"snowddl/x.yaml\x00120000 {blob}\tsnowddl/link.yaml": "x\n"}, "inject\n", WHO)
