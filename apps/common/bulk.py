"""Rows written in bulk where a hot path writes many at once (placement: risk events, orders,
their events, the outbox).

On PostgreSQL, from COPY_FROM rows on, they go through COPY: psycopg formats the rows in C,
where Django 5.2's bulk_create sends each column as an array that psycopg quotes element by
element in Python (JSON columns most of all: every quote in the JSON escaped again). The rows
are the model instances a bulk_create would take, prepared as it prepares them (related ids
taken from saved instances, each field's pre_save, then its value for the database), written
in the same order. The database checks what it always checks (constraints, foreign keys:
COPY fires the same triggers). As bulk_create: no save(), no model signals. Fewer rows, or
another database: bulk_create (a COPY costs a second round trip).
"""

from operator import attrgetter

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.postgresql.operations import get_json_dumps
from psycopg.types.json import Jsonb

COPY_FROM = 8  # rows; below it one INSERT is quicker than a COPY's two round trips

# Fields whose value for the database is the Python value itself on PostgreSQL (psycopg adapts
# it): no get_db_prep_save call per value. Every other field prepares its value itself.
_PLAIN = (
    models.AutoField,
    models.BigAutoField,
    models.BooleanField,
    models.CharField,
    models.DateTimeField,
    models.DecimalField,
    models.ForeignKey,
    models.IntegerField,
    models.TextField,
)
_sequences: dict[type[models.Model], str] = {}
_columns: dict[type[models.Model], list[tuple[str, models.Field]]] = {}


def unsaved(model: type[models.Model], **values) -> models.Model:
    """A new instance from its columns' values (relations by id: `signal_id=`), made the way the
    ORM makes a row it read (positionally: no per-field keyword and descriptor work, a third of
    the time); the fields not given take their defaults. For rows rows_write writes."""
    fields = _columns.get(model)
    if fields is None:
        fields = _columns[model] = [(field.attname, field) for field in model._meta.concrete_fields]
    instance = model(*[values.pop(name) if name in values else field.get_default() for name, field in fields])
    assert not values, f"not columns of {model.__name__}: {sorted(values)}"
    return instance


def rows_write(model: type[models.Model], objs: list[models.Model], *, ids: bool = False) -> None:
    """Insert the instances as rows, in this order (the default database). `ids`: the instances
    get their ids (from the table's sequence before the rows are written, ascending as a bulk
    insert would give them); without it an instance written by COPY keeps none (nobody reads
    it back)."""
    if not objs:
        return
    connection = connections[DEFAULT_DB_ALIAS]  # the wrapper itself (`django.db.connection` is a proxy)
    if connection.vendor != "postgresql" or len(objs) < COPY_FROM:
        model.objects.bulk_create(objs)
        return
    assert all(obj.pk is None for obj in objs), "new rows only"
    if ids:
        for obj, pk in zip(objs, _ids_reserve(connection, model, len(objs)), strict=True):
            obj.pk = pk
    fields = [field for field in model._meta.concrete_fields if ids or not field.primary_key]
    steps = [(_reader(field), _preparer(field, connection)) for field in fields]
    relations = [field for field in fields if field.is_relation]
    quote = connection.ops.quote_name
    statement = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(statement) as copy:
            for obj in objs:
                if any(getattr(obj, field.attname) is None and field.is_cached(obj) for field in relations):
                    obj._prepare_related_fields_for_save(operation_name="bulk_create")  # the id of a row saved since
                copy.write_row([read(obj) if prep is None else prep(read(obj)) for read, prep in steps])
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def _reader(field: models.Field):
    """The field's pre_save as bulk_create calls it (the attribute itself where pre_save is Field's)."""
    if type(field).pre_save is models.Field.pre_save:
        return attrgetter(field.attname)
    return lambda obj: field.pre_save(obj, True)


def _preparer(field: models.Field, connection):
    """How a value of the field becomes the database's (None: as it is)."""
    if isinstance(field, _PLAIN):
        return None
    if type(field) is models.JSONField:  # its get_db_prep_save, without the checks for expressions
        dumps = get_json_dumps(field.encoder)
        return lambda value: None if value is None else Jsonb(value, dumps=dumps)
    return lambda value: field.get_db_prep_save(value, connection)


def _ids_reserve(connection, model: type[models.Model], count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [_sequence(connection, model), count])
        return sorted(pk for (pk,) in cursor.fetchall())


def _sequence(connection, model: type[models.Model]) -> str:
    if model not in _sequences:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, model._meta.pk.column])
            (name,) = cursor.fetchone()
        assert name, f"{model._meta.db_table}.{model._meta.pk.column} has no sequence"
        _sequences[model] = name
    return _sequences[model]
