"""on PostgreSQL, new address rows are checked against ip_pools once per statement, not once per row

PostgreSQL checks a foreign key with a query per inserted row: for the COPY of a /16 that was more than
half its time. Triggers take the key's place and keep its rules: the rows one statement inserts are checked
together, their pools locked FOR KEY SHARE as the key's own check locks them (a pool being deleted is
waited for; one deleted meanwhile is not found); deleting a pool deletes its addresses; a row can't move to
a pool that doesn't exist, nor a referenced pool change its id; truncating ip_pools empties pool_addresses.
SQLite keeps its foreign key (its check is one lookup in the same process).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FOREIGN_KEY = "fk_pool_addresses_pool_id_ip_pools"
VIOLATION = (
    'RAISE EXCEPTION \'insert or update on table "pool_addresses" violates foreign key constraint'
    f" \"{FOREIGN_KEY}\"' USING ERRCODE = 'foreign_key_violation'"
)
# name: (when it fires, its function's body)
TRIGGERS = {
    # The pools the statement's new rows name, against those of them found (and locked).
    "pool_addresses_pools_exist": (
        "AFTER INSERT ON pool_addresses REFERENCING NEW TABLE AS added FOR EACH STATEMENT",
        f"""DECLARE named integer[];
        BEGIN
            SELECT array_agg(pool_id) INTO named FROM (SELECT pool_id FROM added GROUP BY pool_id) AS pools;
            IF (SELECT count(*) FROM (SELECT 1 FROM ip_pools WHERE id = ANY (named) FOR KEY SHARE) AS found)
               < cardinality(named) THEN
                {VIOLATION};
            END IF;
            RETURN NULL;
        END""",
    ),
    # Imports never move a row to another pool. (A trigger on one column can't see a transition table,
    # so this one runs per row, and only for an UPDATE that sets pool_id.)
    "pool_addresses_pool_exists": (
        "AFTER UPDATE OF pool_id ON pool_addresses FOR EACH ROW"
        " WHEN (OLD.pool_id IS DISTINCT FROM NEW.pool_id)",
        f"""BEGIN
            PERFORM 1 FROM ip_pools WHERE id = NEW.pool_id FOR KEY SHARE;
            IF NOT FOUND THEN
                {VIOLATION};
            END IF;
            RETURN NULL;
        END""",
    ),
    # Only in READ COMMITTED does this DELETE take a snapshot of its own, one that sees the rows of an
    # insert it waited for (the key's cascade saw them in any isolation level): elsewhere it is refused.
    "ip_pools_delete_addresses": (
        "AFTER DELETE ON ip_pools REFERENCING OLD TABLE AS removed FOR EACH STATEMENT",
        """BEGIN
            IF current_setting('transaction_isolation') <> 'read committed' THEN
                RAISE EXCEPTION 'pools are deleted in READ COMMITTED transactions only'
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            DELETE FROM pool_addresses WHERE pool_id IN (SELECT id FROM removed);
            RETURN NULL;
        END""",
    ),
    "ip_pools_keep_referenced_id": (
        "AFTER UPDATE OF id ON ip_pools FOR EACH ROW WHEN (OLD.id <> NEW.id)",
        f"""BEGIN
            IF EXISTS (SELECT 1 FROM pool_addresses WHERE pool_id = OLD.id) THEN
                RAISE EXCEPTION 'update or delete on table "ip_pools" violates foreign key constraint'
                    ' "{FOREIGN_KEY}" on table "pool_addresses"' USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END""",
    ),
    "ip_pools_truncate_addresses": (
        "BEFORE TRUNCATE ON ip_pools FOR EACH STATEMENT",
        """BEGIN
            DELETE FROM pool_addresses;
            RETURN NULL;
        END""",
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.drop_constraint(FOREIGN_KEY, "pool_addresses", type_="foreignkey")
    for name, (when, body) in TRIGGERS.items():
        # The tables of this schema, whatever the search_path of the session that fires the trigger.
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT"
            f" AS $$ {body} $$"
        )
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {name}()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP FUNCTION {name}() CASCADE")  # and its trigger
    op.create_foreign_key(FOREIGN_KEY, "pool_addresses", "ip_pools", ["pool_id"], ["id"], ondelete="CASCADE")
