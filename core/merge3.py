"""Three-way merge of line lists (diff3), as git merges and reverts: the regions that `ours` and `theirs`
each changed relative to `base` are combined; a region both changed differently (or changed right
next to each other, with no unchanged base line between) is a conflict.

Written here on Python's difflib because the maintained Python implementation (the `merge3` package
from Breezy) is GPL-2.0-or-later, which SnowTower (Apache-2.0) does not take as a dependency. The
algorithm is the classic one (Khanna, Kunal and Pierce, "A Formal Investigation of Diff3"): the lines
of `base` that both sides kept unchanged synchronise the three texts; between two synchronised runs,
a chunk changed by one side only takes that side's lines.
"""
from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher


@dataclass(frozen=True)
class Conflict:
    """A region both sides changed: lines `start`..`end` (1-based, inclusive; end < start: an insertion
    point before `start`) of `ours`, and the same for `base`."""
    ours_start: int
    ours_end: int
    base_start: int
    base_end: int


@dataclass(frozen=True)
class Merged:
    lines: list[str]
    conflicts: list[Conflict]

    @property
    def clean(self) -> bool:
        return not self.conflicts


def _sync_regions(base: list[str], ours: list[str], theirs: list[str]) -> list[tuple[int, int, int, int, int, int]]:
    """(base_start, base_end, ours_start, ours_end, theirs_start, theirs_end) of each run of base lines
    that both sides kept, in order, ending with the empty run at the three ends."""
    a = SequenceMatcher(None, base, ours, autojunk=False).get_matching_blocks()
    b = SequenceMatcher(None, base, theirs, autojunk=False).get_matching_blocks()
    out = []
    ia = ib = 0
    while ia < len(a) and ib < len(b):
        abase, amatch, alen = a[ia]
        bbase, bmatch, blen = b[ib]
        lo, hi = max(abase, bbase), min(abase + alen, bbase + blen)
        if lo < hi:
            n = hi - lo
            asub, bsub = amatch + (lo - abase), bmatch + (lo - bbase)
            out.append((lo, hi, asub, asub + n, bsub, bsub + n))
        if abase + alen < bbase + blen:
            ia += 1
        else:
            ib += 1
    out.append((len(base), len(base), len(ours), len(ours), len(theirs), len(theirs)))
    return out


def merge(base: list[str], ours: list[str], theirs: list[str]) -> Merged:
    """`ours` with the change from `base` to `theirs` applied, or the regions where that cannot be done
    without guessing (Merged.conflicts; Merged.lines then holds ours' side there)."""
    out: list[str] = []
    conflicts: list[Conflict] = []
    iz = io = it = 0
    for zs, ze, os_, oe, ts, te in _sync_regions(base, ours, theirs):
        if os_ > io or ts > it or zs > iz:
            b, o, t = base[iz:zs], ours[io:os_], theirs[it:ts]
            if o == t or t == b:
                out += o
            elif o == b:
                out += t
            else:
                out += o
                conflicts.append(Conflict(io + 1, os_, iz + 1, zs))
        out += base[zs:ze]
        iz, io, it = ze, oe, te
    return Merged(out, conflicts)


def lines(text: str) -> list[str]:
    """`text` split after each LF only (as git counts lines), every line keeping its end; a last line
    without one stays so."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out
