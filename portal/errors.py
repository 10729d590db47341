"""No traceback in the browser: an unexpected exception shows a short message with an error id, and the
full traceback goes to the server's log (Python logging, logger "snowtower") under that id.

    errors.guard(run)            the entry script wraps each page run with it
    @errors.guarded_callback     for widget callbacks (Streamlit runs them before the script)
"""
from __future__ import annotations

import functools
import logging
import secrets
from typing import Callable

import streamlit as st

LOGGER = logging.getLogger("snowtower.portal")
PENDING_KEY = "snowtower.error_id"  # an error id from a callback, shown by the next guard()


def _configure() -> None:
    """A stderr handler for the "snowtower" loggers, once (Streamlit configures only its own)."""
    root = logging.getLogger("snowtower")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def log_exception(exc: BaseException, where: str) -> str:
    """Log `exc` with its traceback under a new error id (8 hex digits) and return the id."""
    _configure()
    error_id = secrets.token_hex(4).upper()
    LOGGER.error("error id %s in %s: %s: %s", error_id, where, type(exc).__name__, exc, exc_info=exc)
    return error_id


def show(error_id: str) -> None:
    st.error(f"Something went wrong — error id {error_id}. Nothing more is shown here; quote this id to "
             "the SnowTower admins, who find the details in the server's log.", icon=":material/error:")


def guard(run: Callable[[], object], where: str = "page") -> None:
    """Run `run()`; an unexpected exception becomes the error message (st.stop and st.rerun pass through:
    they are not Exceptions)."""
    pending = st.session_state.pop(PENDING_KEY, None)
    if pending:
        show(pending)
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: everything is logged
        error_id = log_exception(exc, where)
        from app.audit import AuditError

        if isinstance(exc, AuditError):  # a set-up fault an admin fixes: its message names the grant (no secret in it)
            from core.plaintext import md_escape

            st.error(f"The audit log cannot be used, so nothing is done until it can: {md_escape(str(exc))} "
                     f"(error id {error_id})", icon=":material/error:")
        else:
            show(error_id)


def guarded_callback(fn: Callable) -> Callable:
    """A widget callback whose unexpected exception is logged and shown by the next guard()."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            st.session_state[PENDING_KEY] = log_exception(exc, f"callback {fn.__qualname__}")
    return wrapper


def error_details(mode: str) -> str:
    """Streamlit's client.showErrorDetails for a mode: tracebacks only in the demo (a developer's machine)."""
    return "full" if mode == "demo" else "none"
