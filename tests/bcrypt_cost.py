"""bcrypt at its lowest cost in the tests' processes (and the demo servers the browser tests start).

The portal hashes passwords with bcrypt's default cost, 12 (2^12 rounds: about 0.25 s of one core a hash).
The suite builds hundreds of demo workspaces (three demo logins each, app.identity.ensure_demo_logins) and
signs in hundreds of times; at cost 12 that alone is minutes of CPU. No test checks the cost of a hash:
they check that the right password signs in and a wrong one does not, which bcrypt decides the same way
at any cost (checkpw reads the cost from the stored hash). So hashes made here use cost 4, the lowest
bcrypt accepts; the product's own default (bcrypt.gensalt()'s 12) is unchanged."""
from __future__ import annotations

import runpy
import sys

import pytest

TEST_COST = 4  # bcrypt's minimum (log2 of its rounds)


def use_lowest_cost() -> None:
    """Make bcrypt.gensalt() default to TEST_COST in this process (idempotent). Callers look gensalt up
    on the module at each call (app.identity._hash, streamlit-authenticator's Hasher), so this reaches them."""
    import bcrypt

    if getattr(bcrypt.gensalt, "test_cost", False):
        return
    real = bcrypt.gensalt

    def gensalt(rounds: int = TEST_COST, prefix: bytes = b"2b") -> bytes:
        return real(rounds, prefix)

    gensalt.test_cost = True  # type: ignore[attr-defined]
    gensalt.real = real  # type: ignore[attr-defined]
    bcrypt.gensalt = gensalt


@pytest.fixture
def product_cost(monkeypatch):
    """bcrypt at the product's own cost (12) for one test: one whose race needs the hash's quarter of a second
    between reading and writing the users file, so that it fails if the writes are not serialized."""
    import bcrypt

    monkeypatch.setattr(bcrypt, "gensalt", getattr(bcrypt.gensalt, "real", bcrypt.gensalt))


if __name__ == "__main__":  # python -m tests.bcrypt_cost ARGS: `snowtower ARGS` (portal.cli) with the lowest cost
    use_lowest_cost()
    from tests.standin_cache import use_standin_cache

    use_standin_cache()  # and the run's demo accounts (tests/standin_cache.py)
    sys.argv[0] = "snowtower"
    runpy.run_module("portal.cli", run_name="__main__", alter_sys=True)
