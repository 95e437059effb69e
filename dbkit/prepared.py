"""The one way into hand-written SQL: statements PostgreSQL prepares once per session.

PostgreSQL spends more CPU planning the annotator loop's statements than running them,
and the ORM's compile of them cost more than both. A ``Prepared`` statement is PREPAREd
once per database session, on its first use there, and EXECUTEd from then on.

Hand-written SQL runs on PostgreSQL only. Each app keeps its statements in one module
(``annotations/loop_sql.py``, ``quality/consensus_sql.py``, ``audit/insert_sql.py``), each
next to its ORM twin, joined by ``by_backend``: the statement where ``fast_sql()`` holds,
the ORM elsewhere (SQLite for ``make run``). Rows come back with the ORM's types
(``model_from_row``); a test per statement runs both twins on the same data and compares.

The SQL is written with ``%(name)s`` placeholders as for any Django cursor; columns are
named explicitly (no ``SELECT *``), so that a migration that adds a column never changes
a prepared statement's result type. PostgreSQL re-plans a prepared statement by itself
when a table it uses changes.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache, wraps
from typing import Any, ParamSpec, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db import connection as default_connection

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")

# Every prepared statement by name: what an ``EXECUTE name(...)`` in a query log runs.
REGISTRY: dict[str, "Prepared"] = {}

P = ParamSpec("P")
R = TypeVar("R")


def fast_sql(connection=None) -> bool:
    """Whether the hand-written statements run on ``connection`` (the default one)."""
    if connection is None:
        return _default_vendor() == "postgresql"
    return connection.vendor == "postgresql"


@cache
def _default_vendor() -> str:
    # Looked up once per process: the default connection's engine is the settings', and
    # reaching it through Django's thread-local proxy costs microseconds on every call.
    return connections[DEFAULT_DB_ALIAS].vendor


def by_backend(fast: Callable[P, R], portable: Callable[P, R]) -> Callable[P, R]:
    """One function: ``fast`` (hand-written SQL) on PostgreSQL, ``portable`` (the ORM)
    elsewhere. Both twins stay importable by name, so a test can run both and compare."""

    @wraps(portable)
    def either(*args: P.args, **kwargs: P.kwargs) -> R:
        if _default_vendor() == "postgresql":
            return fast(*args, **kwargs)
        return portable(*args, **kwargs)

    either.fast = fast
    either.portable = portable
    return either


class Prepared:
    """A PostgreSQL statement with ``%(name)s`` placeholders, prepared per session."""

    def __init__(self, name: str, sql: str) -> None:
        self.name = name
        self.sql = sql
        self.parameters: list[str] = list(dict.fromkeys(_PLACEHOLDER.findall(sql)))
        numbered = _PLACEHOLDER.sub(lambda match: f"${self.parameters.index(match[1]) + 1}", sql)
        self._prepare = f"PREPARE {name} AS {numbered}"
        arguments = ", ".join(f"%({parameter})s" for parameter in self.parameters)
        self._execute = f"EXECUTE {name}({arguments})" if arguments else f"EXECUTE {name}"
        REGISTRY[name] = self

    def execute(self, cursor, params: Mapping[str, Any], *, connection=None) -> None:
        """Runs the statement on ``cursor`` (a Django cursor; ``connection``: its
        database's, by default the cursor's own)."""
        connection = connection or cursor.db
        if connection.vendor != "postgresql":
            raise NotImplementedError(
                f"{self.name} is PostgreSQL's; call its ORM twin through dbkit.by_backend"
            )
        prepared = _prepared_in_session(connection)
        if self.name not in prepared:
            cursor.execute(self._prepare)
            prepared.add(self.name)
        cursor.execute(self._execute, params)

    def fetchall(self, params: Mapping[str, Any]) -> list[tuple]:
        with default_connection.cursor() as cursor:
            self.execute(cursor, params)
            return cursor.fetchall()

    def fetchone(self, params: Mapping[str, Any]) -> tuple | None:
        with default_connection.cursor() as cursor:
            self.execute(cursor, params)
            return cursor.fetchone()

    def run(self, params: Mapping[str, Any]) -> int:
        """Executes a statement that returns no rows; returns how many rows it changed."""
        with default_connection.cursor() as cursor:
            self.execute(cursor, params)
            return cursor.rowcount


def _prepared_in_session(connection) -> set[str]:
    """The names prepared in the current database session of ``connection``.

    Prepared statements live as long as the server session: a new connection (Django
    reconnects after ``CONN_MAX_AGE`` or an error) starts with none.
    """
    session = connection.connection.info.backend_pid
    known = getattr(connection, "_dropturk_prepared", None)
    if known is None or known[0] != session:
        known = (session, set())
        connection._dropturk_prepared = known
    return known[1]


def model_from_row(model, attnames: Sequence[str], row: Sequence[Any], *, connection=None):
    """A model instance from a hand-written row, with the values the ORM would give.

    psycopg2 (as Django configures it) hands back UUIDs and time-zone-aware datetimes;
    what it hands back as text (jsonb through a Django cursor) passes through the
    field's own ``from_db_value``, as a queryset's row would.
    """
    connection = connection or default_connection
    decoders = _decoders(model, tuple(attnames))
    if not any(decoders):  # nothing the driver hands back differently
        return model.from_db(connection.alias, attnames, row)
    values = [
        value if decode is None or value is None else decode(value, None, connection)
        for decode, value in zip(decoders, row, strict=True)
    ]
    return model.from_db(connection.alias, attnames, values)


def decode_field(model, name: str, value: Any, *, connection=None) -> Any:
    """One column (``name``: a field's name or attname) of a hand-written row as the ORM
    gives it."""
    (decode,) = _decoders(model, (name,))
    if decode is None or value is None:
        return value
    return decode(value, None, connection or default_connection)


@cache
def _decoders(model, names: tuple[str, ...]) -> list:
    """Each field's ``from_db_value`` (None where it has none), looked up once."""
    return [getattr(model._meta.get_field(name), "from_db_value", None) for name in names]


_INSERTS: dict[tuple[str, str | None], Prepared] = {}


def _insert_statement(model, upsert_on: str | None) -> Prepared:
    key = (model._meta.label_lower, upsert_on)
    statement = _INSERTS.get(key)
    if statement is None:
        meta = model._meta
        fields = [field for field in meta.concrete_fields if not field.primary_key]
        columns = ", ".join(f'"{field.column}"' for field in fields)
        values = ", ".join(f"%({field.attname})s" for field in fields)
        sql = f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({values})'  # noqa: S608  our own model's columns
        if upsert_on is not None:
            target = meta.get_field(upsert_on).column
            updates = ", ".join(
                f'"{field.column}" = EXCLUDED."{field.column}"'
                for field in fields
                if field.column != target
            )
            sql += f' ON CONFLICT ("{target}") DO UPDATE SET {updates}'
        sql += f' RETURNING "{meta.pk.column}"'
        suffix = f"_upsert_{upsert_on}" if upsert_on else ""
        statement = Prepared(f"dropturk_insert_{meta.db_table}{suffix}", sql)
        _INSERTS[key] = statement
    return statement


def insert_sql(instance, *, upsert_on: str | None = None, connection=None) -> None:
    """``insert`` through a prepared statement (PostgreSQL)."""
    model = type(instance)
    statement = _insert_statement(model, upsert_on)
    connection = connection or connections[router.db_for_write(model)]
    params = {
        field.attname: field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in model._meta.concrete_fields
        if not field.primary_key
    }
    with connection.cursor() as cursor:
        statement.execute(cursor, params, connection=connection)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias


def insert_orm(instance, *, upsert_on: str | None = None) -> None:
    """``insert`` through the ORM (any database)."""
    model = type(instance)
    if upsert_on is None:
        instance.save(force_insert=True)
        return
    target = model._meta.get_field(upsert_on)
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    values = {field.attname: getattr(instance, field.attname) for field in fields}
    key = {target.attname: values.pop(target.attname)}
    row, _ = model.objects.update_or_create(**key, defaults=values)
    instance.pk = row.pk
    instance._state.adding = False
    instance._state.db = row._state.db


def insert(instance, *, upsert_on: str | None = None) -> None:
    """``instance.save(force_insert=True)``, prepared once per session on PostgreSQL; sets
    its pk.

    With ``upsert_on`` (a unique field), a row that has the same value is updated
    instead. No model signals are sent on PostgreSQL (none of the models written this way
    has receivers). Values pass through each field's own ``pre_save`` and
    ``get_db_prep_save``, exactly as ``save`` would.
    """
    connection = connections[router.db_for_write(type(instance))]
    if connection.vendor == "postgresql":
        insert_sql(instance, upsert_on=upsert_on, connection=connection)
    else:
        insert_orm(instance, upsert_on=upsert_on)
