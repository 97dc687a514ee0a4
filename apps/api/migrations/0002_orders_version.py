"""The orders version of each account (apps.api.models.OrdersVersion), written by PostgreSQL
triggers on every write that changes what the API's order list shows.

The triggers are constraint triggers, DEFERRABLE INITIALLY DEFERRED: the bump runs as the
writing transaction commits, once per account and transaction (a transaction-local setting
remembers it), so the account's version row is locked only for the instant of the commit, never
while the transaction goes on to lock orders (an immediate bump, held to the end, could deadlock
two writers of one account's orders: one holding the version and waiting for an order, the
other the reverse). A reader sees the new version exactly when it sees the writes.

Row triggers do not see TRUNCATE: a statement trigger bumps the whole desk (account 0) instead.
SQLite gets the table and no trigger (apps/api/page_cache.py caches nothing there)."""

from django.db import migrations, models

# One statement each (a driver may refuse several in one execute).
BUMP = [
    "CREATE SEQUENCE IF NOT EXISTS api_orders_version_seq",
    """
CREATE OR REPLACE FUNCTION api_orders_version_bump(account bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    mark text;
    tx text;
BEGIN
    IF account IS NULL THEN
        RETURN;
    END IF;
    mark := 'tradedesk.orders_version_' || account;
    tx := txid_current()::text;
    IF current_setting(mark, true) IS NOT DISTINCT FROM tx THEN
        RETURN;  -- bumped already by this transaction
    END IF;
    INSERT INTO api_orders_version (account_id, version) VALUES (account, nextval('api_orders_version_seq'))
        ON CONFLICT (account_id) DO UPDATE SET version = EXCLUDED.version;
    PERFORM set_config(mark, tx, true);
END $$""",
    """
CREATE OR REPLACE FUNCTION api_orders_version_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM api_orders_version_bump(OLD.account_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM api_orders_version_bump(NEW.account_id);
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION api_orders_version_of_order_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- the order's account as the transaction commits (an order deleted with its events has
    -- bumped through its own trigger)
    IF TG_OP <> 'INSERT' THEN
        PERFORM api_orders_version_bump((SELECT account_id FROM trading_order WHERE id = OLD.order_id));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM api_orders_version_bump((SELECT account_id FROM trading_order WHERE id = NEW.order_id));
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION api_orders_version_of_desk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM api_orders_version_bump(0);
    RETURN NULL;
END $$""",
    *(
        f"CREATE CONSTRAINT TRIGGER api_orders_version AFTER {events} ON {table} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW {when} EXECUTE FUNCTION {function}()"
        for table, events, when, function in (
            ("trading_order", "INSERT OR UPDATE OR DELETE", "", "api_orders_version_of_row"),
            ("trading_signal", "UPDATE OR DELETE", "", "api_orders_version_of_row"),
            ("trading_orderevent", "INSERT OR UPDATE OR DELETE", "", "api_orders_version_of_order_row"),
            ("trading_fill", "INSERT OR UPDATE OR DELETE", "", "api_orders_version_of_order_row"),
            # the list shows a market's symbol only
            ("markets_market", "UPDATE", "WHEN (OLD.symbol IS DISTINCT FROM NEW.symbol)", "api_orders_version_of_desk"),
        )
    ),
]
TRUNCATED = (
    "CREATE TRIGGER api_orders_version_truncate AFTER TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION api_orders_version_of_desk()"
)
ROW_TABLES = ("trading_order", "trading_signal", "trading_orderevent", "trading_fill", "markets_market")
TRUNCATE_TABLES = ("trading_order", "trading_signal", "trading_orderevent", "trading_fill")

UNBUMP = [
    *(f"DROP TRIGGER IF EXISTS api_orders_version ON {table}" for table in ROW_TABLES),
    *(f"DROP TRIGGER IF EXISTS api_orders_version_truncate ON {table}" for table in TRUNCATE_TABLES),
    "DROP FUNCTION IF EXISTS api_orders_version_of_desk()",
    "DROP FUNCTION IF EXISTS api_orders_version_of_order_row()",
    "DROP FUNCTION IF EXISTS api_orders_version_of_row()",
    "DROP FUNCTION IF EXISTS api_orders_version_bump(bigint)",
    "DROP SEQUENCE IF EXISTS api_orders_version_seq",
]


def triggers_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BUMP:
        schema_editor.execute(statement)
    for table in TRUNCATE_TABLES:
        schema_editor.execute(TRUNCATED.format(table=table))


def triggers_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in UNBUMP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("markets", "0005_market_scores"),
        ("trading", "0007_order_market_account_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrdersVersion",
            fields=[
                ("account_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField()),
            ],
            options={"verbose_name": "orders version", "db_table": "api_orders_version"},
        ),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
