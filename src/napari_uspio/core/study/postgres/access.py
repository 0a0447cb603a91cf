"""Access where it belongs: one database role per reader, row-level security on the server.

:func:`set_up_access` (run by ``study init`` for a server study, as the coordinator,
who owns the tables and so sees everything) creates a login role per reader and
adjudicator (:func:`role_name`: ``<database>_<reader>``, no password: the coordinator
gives one, ``ALTER ROLE ... PASSWORD``, or a certificate) and policies the server
enforces whatever the client does:

- a reader reads and writes only their own rows (orders, masks, ratings, time, case
  state, PIN, lease, spools and the changes applied from them, audit); the readers
  table is readable, not writable;
- an adjudicator also reads every order and case state, and the masks, ratings and
  lesion times of the readings marked *done*; they write only their own rows (their
  decisions and consensus);
- the coordinator (the tables' owner) reads and writes everything.

A reader's workstation connects as the reader's role (libpq: ``PGUSER`` or a
service file); ``uspio_reader()`` is the reader the connection's role stands for.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql

__all__ = ["OWN_TABLES", "role_name", "set_up_access"]

#: Tables whose rows belong to one reader (column ``reader``).
OWN_TABLES = ("orders", "snapshots", "strokes", "ratings", "case_state", "lesion_time",
              "pins", "adjudications", "leases", "spools", "audit")  # fmt: skip
#: What an adjudicator reads of the readers' done readings.
_DONE_READINGS = ("snapshots", "strokes", "ratings", "lesion_time")
_FUNCTIONS = (
    "CREATE TABLE IF NOT EXISTS reader_roles (role TEXT PRIMARY KEY, reader TEXT NOT NULL "
    "UNIQUE REFERENCES readers (reader))",
    "CREATE OR REPLACE FUNCTION uspio_reader() RETURNS TEXT LANGUAGE sql STABLE AS "
    "$$ SELECT reader FROM reader_roles WHERE role = current_user $$",
    "CREATE OR REPLACE FUNCTION uspio_adjudicates() RETURNS BOOLEAN LANGUAGE sql STABLE AS "
    "$$ SELECT EXISTS (SELECT 1 FROM readers r JOIN reader_roles m ON m.reader = r.reader "
    "WHERE m.role = current_user AND r.role = 'adjudicator') $$",
)


#: Evaluated once per statement (a scalar subquery), not once per row.
_ME = "(SELECT uspio_reader())"
_ADJUDICATES = "(SELECT uspio_adjudicates())"
#: A change applied from one of the reader's own spools (the sender records its spool first).
_OWN_SPOOL = f"EXISTS (SELECT 1 FROM spools s WHERE s.spool = applied.spool AND s.reader = {_ME})"


def role_name(dbname: str, reader: str) -> str:
    """The database role of a study's reader (roles are the whole server's: prefixed)."""
    return f"{dbname}_{reader}"


def _policies() -> list[str]:
    out = [*_FUNCTIONS]
    for table in (*OWN_TABLES, "readers", "applied"):
        out.append(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    for table in OWN_TABLES:
        out.append(f"CREATE POLICY own ON {table} USING (reader = {_ME}) "
                   f"WITH CHECK (reader = {_ME})")  # fmt: skip
    for table in ("orders", "case_state"):
        out.append(f"CREATE POLICY adjudicator ON {table} FOR SELECT USING ({_ADJUDICATES})")
    for table in _DONE_READINGS:
        out.append(
            f"CREATE POLICY done_readings ON {table} FOR SELECT USING ({_ADJUDICATES} AND "
            f"EXISTS (SELECT 1 FROM case_state s WHERE s.reader = {table}.reader AND "
            f"s.case_code = {table}.case_code AND s.status = 'done'))"
        )
    out += [
        "CREATE POLICY everyone ON readers FOR SELECT USING (true)",
        f"CREATE POLICY own_spool ON applied USING ({_OWN_SPOOL}) WITH CHECK ({_OWN_SPOOL})",
    ]
    return out


def set_up_access(db, readers: Iterable[str]) -> dict[str, str]:
    """Create the readers' roles, their grants and the policies; return reader -> role.

    ``db`` is the coordinator's :class:`~.database.PgDatabase` of the study; the
    policies are made the first time (``study init``), roles for each call
    (``study add-reader``).
    """
    dbname = db.params["dbname"]
    roles = {r: role_name(dbname, r) for r in readers}
    tables = sql.SQL(", ").join(map(sql.Identifier, (*OWN_TABLES, "applied")))
    with db.write():
        if db.one("SELECT 1 FROM pg_policies WHERE tablename = 'strokes'") is None:
            for statement in _policies():  # once, at study init; readers added later reuse them
                db.execute(statement)
        for reader, role in roles.items():
            ident = sql.Identifier(role)
            exists = db.one("SELECT 1 FROM pg_roles WHERE rolname = ?", (role,))
            if exists is None:
                db.raw(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
            db.raw(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), ident))  # fmt: skip
            db.raw(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
            db.raw(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                tables, ident))  # fmt: skip
            db.raw(sql.SQL("GRANT SELECT ON readers, schema_version, reader_roles TO {}")
                   .format(ident))  # fmt: skip
            db.raw(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}")
                   .format(ident))  # fmt: skip
            db.execute("INSERT INTO reader_roles VALUES (?, ?)", (role, reader))
    return roles
