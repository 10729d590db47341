"""The audit log's export and import (part of the audit log: app.audit): `to_csv` / `from_csv` (RFC 4180,
a header of COLUMNS, cells a spreadsheet would run quoted with a leading apostrophe) and `to_json` /
`from_json` ({"format": EXPORT_FORMAT, "version": 1, "since", "until", "records": [...]}). The imports
raise ValueError on a file that is not as exported; verify what they return with
app.audit_record.verify_chain.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone

from app.audit_record import COLUMNS, AuditRecord
from core import plaintext

FORMULA_START = (*plaintext.FORMULA_START, " ", "'")


def _cell(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _uncell(value: str, column: str, line: int) -> str:
    """The text of a to_csv cell: its leading quote removed. Raises ValueError on a cell to_csv would have
    quoted and that is not: the file was changed after the export, and a spreadsheet would run that cell
    (the chain cannot tell, it hashes the text without the quote)."""
    if value.startswith("'"):
        return value[1:]
    if value.startswith(FORMULA_START):
        raise ValueError(f"line {line}, column {column}: the cell starts with {value[:1]!r} without the quote the export "
                         "puts there, so a spreadsheet would run it as a formula; this file is not as exported")
    return value


def to_csv(records: list[AuditRecord]) -> str:
    """RFC 4180 CSV with a header row (COLUMNS, chain fields included). A cell starting with =, +, -, @, a
    tab, a line break, a space or a single quote is prefixed with a single quote: a spreadsheet never
    runs user text, and from_csv removes exactly that quote, so `snowtower audit verify --file` checks
    the export's chain."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: _cell(v) for k, v in r.to_row().items()})
    return out.getvalue()


def _from_row(row: dict) -> AuditRecord:
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise ValueError(f"the file lacks the column(s) {', '.join(missing)}")
    request_id = row["request_id"]
    at = datetime.fromisoformat(str(row["occurred_at"]))
    return AuditRecord(at if at.tzinfo else at.replace(tzinfo=timezone.utc), str(row["actor"]), str(row["role"]),
                       str(row["action"]), None if request_id in (None, "") else int(request_id), str(row["outcome"]),
                       str(row["reason"]), str(row["commit_before"]), str(row["commit_after"]), str(row["operation_id"]),
                       int(row["seq"]), str(row["prev_hash"]), str(row["hash"]))


def from_csv(text: str) -> list[AuditRecord]:
    """The records of a to_csv export (spreadsheet quotes removed). Raises ValueError on another shape (columns
    other than COLUMNS, a row with more or fewer cells), or on a cell a spreadsheet would run that lacks its quote."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    # Why: verify vouches for the whole file: a column or a cell the log never held is not as exported.
    if reader.fieldnames is not None and list(reader.fieldnames) != list(COLUMNS):
        raise ValueError(f"its columns are not the export's ({', '.join(COLUMNS)}); this file is not as exported")
    records = []
    for row in reader:
        if None in row or None in row.values():
            raise ValueError(f"line {reader.line_num}: the row has {'more' if None in row else 'fewer'} cells than "
                             "the header; this file is not as exported")
        records.append(_from_row({k: _uncell(v, k, reader.line_num) for k, v in row.items()}))
    return records


EXPORT_FORMAT = "snowtower-audit-export"


def to_json(records: list[AuditRecord], since: date | None = None, until: date | None = None) -> str:
    """The records as JSON: {"format", "version": 1, "since", "until", "records": [{COLUMNS...}]} (oldest
    first; request_id an integer or null). An export by dates starts after #1: verify checks it from there."""
    rows = []
    for r in records:
        row = r.to_row()
        row["request_id"] = r.request_id
        rows.append(row)
    return json.dumps({"format": EXPORT_FORMAT, "version": 1, "since": since.isoformat() if since else None,
                       "until": until.isoformat() if until else None, "records": rows}, ensure_ascii=False, indent=1) + "\n"


def from_json(text: str) -> list[AuditRecord]:
    """The records of a to_json export. Raises ValueError on another shape (keys the export does not write
    included)."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT or not isinstance(data.get("records"), list):
        raise ValueError(f"not a SnowTower audit export (a JSON object with \"format\": \"{EXPORT_FORMAT}\")")
    # Why: verify vouches for the whole file: a key the export does not write holds text the log never held.
    extra = set(data) - {"format", "version", "since", "until", "records"}
    if extra:
        raise ValueError(f"it has key(s) the export does not write ({', '.join(sorted(map(str, extra)))}); "
                         "this file is not as exported")
    for i, row in enumerate(data["records"], 1):
        if not isinstance(row, dict) or set(row) != set(COLUMNS):
            raise ValueError(f"record {i} has other keys than the export's ({', '.join(COLUMNS)}); this file is not as exported")
    return [_from_row(row) for row in data["records"]]
