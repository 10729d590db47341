"""Snowflake's privilege rules for the statements SnowTower's role runs, and the grants deploy/setup.sql makes.

`Grants.from_setup(text)` reads the GRANT statements of a setup script: privileges on objects, roles
granted to roles (inherited, as Snowflake's role hierarchy does), SNOWFLAKE database roles and IMPORTED
PRIVILEGES. `required(sql)` is what one statement needs, from Snowflake's documentation:

- "Access control privileges" (https://docs.snowflake.com/en/user-guide/security-access-control-privileges):
  SELECT on a table or view to query it, INSERT to add rows, UPDATE to update rows, DELETE to delete
  rows (the table privileges UPDATE and DELETE: "Enables executing an UPDATE / DELETE command on a
  table"); "operating on a table also requires the
  USAGE privilege on the parent database and schema"; USAGE on a warehouse to run queries with it;
  CREATE TABLE on a schema to create a table in it (CREATE TABLE's "Access control requirements",
  https://docs.snowflake.com/en/sql-reference/sql/create-table, name no exception for IF NOT EXISTS).
- BEGIN, COMMIT and ROLLBACK ("Transactions", https://docs.snowflake.com/en/sql-reference/transactions,
  and the pages of the three commands) name no access control requirement: they need no privilege.
- "SNOWFLAKE database roles" (https://docs.snowflake.com/en/sql-reference/snowflake-db-roles): each
  ACCOUNT_USAGE view is readable through IMPORTED PRIVILEGES on database SNOWFLAKE, or through the
  database roles that page lists for it (VIEW_ROLES below, for the views SnowTower reads).
- "Privileges required to create and use a Streamlit app"
  (https://docs.snowflake.com/en/developer-guide/streamlit/object-management/privileges): CREATE STREAMLIT
  (and CREATE STAGE for the app's files) on the schema, USAGE on the warehouse, the compute pool and the
  external access integrations; a viewer needs USAGE on the app and at least one privilege on its parent
  database and schema.

A statement of a kind this table does not know raises UnknownStatement, so a new kind of statement in the
app fails the test until its privilege is looked up and written here.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

# ACCOUNT_USAGE views SnowTower reads -> the SNOWFLAKE database roles whose SELECT covers them
# ("SNOWFLAKE database roles", ACCOUNT_USAGE views by database role).
VIEW_ROLES = {
    "ACCESS_HISTORY": {"GOVERNANCE_VIEWER"},  # the page's table: "ACCESS_HISTORY view | GOVERNANCE_VIEWER"
    "DATABASE_STORAGE_USAGE_HISTORY": {"USAGE_VIEWER"},
    "DATA_TRANSFER_HISTORY": {"USAGE_VIEWER"},
    "METERING_DAILY_HISTORY": {"USAGE_VIEWER"},
    "STORAGE_USAGE": {"USAGE_VIEWER"},
    "METERING_HISTORY": {"USAGE_VIEWER"},
    "WAREHOUSE_METERING_HISTORY": {"USAGE_VIEWER"},
    "QUERY_ATTRIBUTION_HISTORY": {"USAGE_VIEWER"},
    "QUERY_HISTORY": {"USAGE_VIEWER", "GOVERNANCE_VIEWER"},
    "LOGIN_HISTORY": {"SECURITY_VIEWER"},
    "SESSIONS": {"SECURITY_VIEWER"},
    "USERS": {"GOVERNANCE_VIEWER", "SECURITY_VIEWER"},
    "ROLES": {"GOVERNANCE_VIEWER", "SECURITY_VIEWER"},
    "GRANTS_TO_ROLES": {"GOVERNANCE_VIEWER", "SECURITY_VIEWER"},
    "GRANTS_TO_USERS": {"GOVERNANCE_VIEWER", "SECURITY_VIEWER"},
}


class UnknownStatement(ValueError):
    """A statement whose privileges this table does not describe."""


@dataclass(frozen=True)
class Need:
    """One privilege a statement needs: `privilege` on `kind` `name` (names upper case, fully qualified).
    For an ACCOUNT_USAGE view, kind is "ACCOUNT_USAGE VIEW" and any of VIEW_ROLES (or IMPORTED PRIVILEGES)
    satisfies it."""
    privilege: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.privilege} ON {self.kind} {self.name}"


def _statements(text: str) -> list[str]:
    from snowflake.connector.util_text import split_statements

    return [s.rstrip(";").strip() for s, _ in split_statements(io.StringIO(text), remove_comments=True) if s.strip()]


_GRANT_PRIVS = re.compile(r"GRANT (?P<privs>.+?) ON (?P<kind>DATABASE|SCHEMA|TABLE|WAREHOUSE|INTEGRATION|SECRET|COMPUTE POOL|STREAMLIT) "
                          r"(?P<name>[\w.$]+) TO ROLE (?P<role>\w+)$", re.I | re.S)
_GRANT_ROLE = re.compile(r"GRANT ROLE (?P<granted>\w+) TO ROLE (?P<role>\w+)$", re.I)
_GRANT_DB_ROLE = re.compile(r"GRANT DATABASE ROLE SNOWFLAKE\.(?P<granted>\w+) TO ROLE (?P<role>\w+)$", re.I)
_GRANT_APP_ROLE = re.compile(r"GRANT APPLICATION ROLE (?P<granted>SNOWFLAKE\.\w+) TO ROLE (?P<role>\w+)$", re.I)
# Snowflake's budgets ("Budgets roles and privileges"; each method page's access control requirements):
# the account budget's methods need an application role for it (SNOWFLAKE.BUDGET_VIEWER reads, BUDGET_ADMIN also
# changes); a custom budget's need one of its instance roles (<budget>!VIEWER, GET_LINKED_RESOURCES <budget>!ADMIN),
# which the budget's owner grants per budget, so no setup script can: SnowTower reads those where granted and says
# why not otherwise. SYSTEM$SHOW_BUDGETS_IN_ACCOUNT needs nothing: it lists the budgets the role holds a privilege on.
_ACCOUNT_BUDGET_CALL = re.compile(r"\s*CALL\s+SNOWFLAKE\.LOCAL\.ACCOUNT_ROOT_BUDGET!\w+\(", re.I)
_INSTANCE_CALL = re.compile(r'\s*CALL\s+(<instance>|"[^"]+"\.)', re.I)
_SHOW_BUDGETS = re.compile(r"\s*SELECT\s+SYSTEM\$SHOW_BUDGETS_IN_ACCOUNT\(\)", re.I)


@dataclass
class Grants:
    """Who holds what after a setup script ran: role -> {(privilege, kind, name)}, role -> roles granted to
    it, role -> SNOWFLAKE database roles. `of(role)` includes what inherited roles hold."""
    privileges: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    roles: dict[str, set[str]] = field(default_factory=dict)
    database_roles: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_setup(cls, text: str) -> "Grants":
        grants = cls()
        for sql in _statements(text):
            flat = " ".join(sql.split())
            if m := _GRANT_DB_ROLE.match(flat):
                grants.database_roles.setdefault(m["role"].upper(), set()).add(m["granted"].upper())
            elif m := _GRANT_APP_ROLE.match(flat):
                grants.privileges.setdefault(m["role"].upper(), set()).add(("APPLICATION ROLE", "APPLICATION", m["granted"].upper()))
            elif m := _GRANT_ROLE.match(flat):
                grants.roles.setdefault(m["role"].upper(), set()).add(m["granted"].upper())
            elif m := _GRANT_PRIVS.match(flat):
                for privilege in m["privs"].split(","):
                    grants.privileges.setdefault(m["role"].upper(), set()).add(
                        (" ".join(privilege.split()).upper(), m["kind"].upper(), m["name"].upper()))
            elif flat.upper().startswith("GRANT "):
                raise UnknownStatement(f"a GRANT this model does not read: {flat[:200]}")
        return grants

    def closure(self, role: str) -> set[str]:
        """`role` and every role granted to it, directly or through others."""
        seen, todo = set(), [role.upper()]
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                todo.extend(self.roles.get(r, ()))
        return seen

    def of(self, role: str) -> tuple[set[tuple[str, str, str]], set[str]]:
        """(privileges, SNOWFLAKE database roles) `role` holds, inherited ones included."""
        privileges, database_roles = set(), set()
        for r in self.closure(role):
            privileges |= self.privileges.get(r, set())
            database_roles |= self.database_roles.get(r, set())
        return privileges, database_roles

    def missing(self, role: str, needs: set[Need]) -> list[Need]:
        """The needs `role` does not hold, sorted."""
        privileges, database_roles = self.of(role)
        imported = ("IMPORTED PRIVILEGES", "DATABASE", "SNOWFLAKE") in privileges
        out = []
        for need in needs:
            if need.kind == "ACCOUNT_USAGE VIEW":
                view = need.name.rsplit(".", 1)[-1]
                if view not in VIEW_ROLES:
                    raise UnknownStatement(f"ACCOUNT_USAGE.{view}: which SNOWFLAKE database role may read it? (add it to VIEW_ROLES)")
                if not (imported or VIEW_ROLES[view] & database_roles):
                    out.append(need)
            elif (need.privilege, need.kind, need.name) not in privileges and ("OWNERSHIP", need.kind, need.name) not in privileges:
                out.append(need)
        return sorted(out, key=str)


def _name(table: exp.Table, database: str, schema: str) -> str:
    return ".".join([(table.catalog or database).upper(), (table.db or schema).upper(), table.name.upper()])


def _reads(tree: exp.Expression, database: str, schema: str, skip: set[str]) -> set[Need]:
    needs = set()
    ctes = {c.alias_or_name.upper() for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.db and table.name.upper() in ctes):
            continue
        name = _name(table, database, schema)
        if id(table) in skip:
            continue
        needs |= _on_table("SELECT", name)
    return needs


def _on_table(privilege: str, name: str) -> set[Need]:
    db, sch, _ = name.split(".")
    if db == "SNOWFLAKE" and sch == "ACCOUNT_USAGE":
        return {Need("SELECT", "ACCOUNT_USAGE VIEW", name)}
    if db == "SNOWFLAKE":
        raise UnknownStatement(f"{name}: a SNOWFLAKE schema other than ACCOUNT_USAGE")
    return {Need(privilege, "TABLE", name), Need("USAGE", "DATABASE", db), Need("USAGE", "SCHEMA", f"{db}.{sch}")}


def required(sql: str, database: str, schema: str, warehouse: str) -> set[Need]:
    """The privileges one statement needs in a session whose current database, schema and warehouse are
    these (a Streamlit app's session: the app's own database and schema, its query warehouse).
    Raises UnknownStatement for a kind of statement not described here."""
    if re.match(r"\s*(ALTER\s+SESSION\s+(UN)?SET|SHOW\s+PARAMETERS\b.*\bIN\s+SESSION)\b", sql, re.I | re.S):
        # A session's own parameters: ALTER SESSION and SHOW PARAMETERS IN SESSION name no access control
        # requirement (https://docs.snowflake.com/en/sql-reference/sql/alter-session,
        # https://docs.snowflake.com/en/sql-reference/sql/show-parameters); no warehouse either.
        return set()
    if re.match(r"\s*(BEGIN(\s+(TRANSACTION|WORK))?|START\s+TRANSACTION|COMMIT|ROLLBACK)\s*;?\s*$", sql, re.I):
        return set()  # transaction control: no privilege ("Transactions")
    body = re.sub(r"\A(?:\s*--[^\n]*\n)*", "", sql)
    if _ACCOUNT_BUDGET_CALL.match(body):
        return {Need("APPLICATION ROLE", "APPLICATION", "SNOWFLAKE.BUDGET_VIEWER")}
    if _INSTANCE_CALL.match(body) or _SHOW_BUDGETS.match(body):
        return set()
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError as exc:
        raise UnknownStatement(f"cannot read {sql[:120]!r}: {exc}") from None
    if isinstance(tree, (exp.Select, exp.Union)):
        needs = _reads(tree, database, schema, set())
    elif isinstance(tree, exp.Insert):
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        needs = _on_table("INSERT", _name(target, database, schema))
        needs |= _reads(tree.expression, database, schema, set()) if tree.expression is not None else set()
    elif isinstance(tree, (exp.Update, exp.Delete)):
        target = tree.this
        needs = _on_table("UPDATE" if isinstance(tree, exp.Update) else "DELETE", _name(target, database, schema))
        where = tree.args.get("where")
        needs |= _reads(where, database, schema, set()) if where is not None else set()
    elif isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        db, sch, _ = _name(target, database, schema).split(".")
        return {Need("CREATE TABLE", "SCHEMA", f"{db}.{sch}"), Need("USAGE", "DATABASE", db)}
    else:
        raise UnknownStatement(f"{type(tree).__name__}: {sql[:120]!r}")
    if needs:  # reading or writing rows runs on the session's warehouse
        needs.add(Need("USAGE", "WAREHOUSE", warehouse.upper()))
    return needs


def refusal(missing: list[Need], held: set[tuple[str, str, str]]):
    """The error Snowflake gives for the first missing privilege (the connector's ProgrammingError): an
    object the role holds nothing on "does not exist or not authorized" (002003); one it holds another
    privilege on: "Insufficient privileges" (003001)."""
    from snowflake.connector.errors import ProgrammingError

    order = {"DATABASE": 0, "SCHEMA": 1}  # Snowflake resolves the name from the database down
    need = min(missing, key=lambda n: (order.get(n.kind, 2), str(n)))
    if need.kind in ("DATABASE", "SCHEMA"):
        return ProgrammingError(msg=f"SQL compilation error:\n{need.kind.title()} '{need.name}' does not exist or not authorized.",
                                errno=2003, sqlstate="02000")
    if need.kind == "TABLE" and any(kind == "TABLE" and name == need.name for _, kind, name in held):
        return ProgrammingError(msg=f"SQL access control error:\nInsufficient privileges to operate on table "
                                    f"'{need.name.rsplit('.', 1)[-1]}'", errno=3001, sqlstate="42501")
    if need.kind == "SCHEMA" or need.privilege == "CREATE TABLE":
        return ProgrammingError(msg=f"SQL access control error:\nInsufficient privileges to operate on schema '{need.name}'",
                                errno=3001, sqlstate="42501")
    return ProgrammingError(msg=f"SQL compilation error:\nObject '{need.name}' does not exist or not authorized.",
                            errno=2003, sqlstate="42S02")


@dataclass
class RoleSession:
    """A DB-API connection that runs each statement only if `role` holds what it needs (`grants`), as a
    Streamlit app's owner's-rights session would, and records it: `log` holds (sql, needs, missing)."""
    conn: object
    grants: Grants
    role: str
    database: str
    schema: str
    warehouse: str
    log: list = field(default_factory=list)

    def cursor(self, *args, **kwargs):
        return _RoleCursor(self, self.conn.cursor(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def check(self, sql: str):
        needs = required(sql, self.database, self.schema, self.warehouse)
        missing = self.grants.missing(self.role, needs)
        self.log.append((sql, needs, missing))
        if missing:
            raise refusal(missing, self.grants.of(self.role)[0])


class _RoleCursor:
    def __init__(self, session: RoleSession, cursor):
        self._session, self._cursor = session, cursor

    def execute(self, sql, *args, **kwargs):
        if str(sql).strip().upper() == "SELECT CURRENT_ROLE()":  # the app's role, as Snowflake answers it
            self._session.log.append((sql, set(), []))
            self._cursor.execute(f"SELECT '{self._session.role}'")
            return self
        self._session.check(str(sql))
        self._cursor.execute(sql, *args, **kwargs)
        return self

    def __getattr__(self, name):
        return getattr(self._cursor, name)
