"""actor event nets: each actor's line nets per event (on open lots, and on the open lots it
accepted), kept for what the matching shows an actor received this year

The lot's page summed every line of the year's events for each of its suggestions: ten times the
data, ten times the work. The table keeps a few rows per event, refreshed at each flush that writes
lines, lots or assignments (offers.services.actor_nets). Filled here from the lines.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 20:00:00

"""

from alembic import op
import sqlalchemy as sa

import app.db
from app.db import ExactDecimal


# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# A line's net is round(quantity × unit price, 2), half away from zero. On SQLite the columns hold
# scaled integers (quantity ×1000, price ×100): the product is the net ×100 000.
NET = {
    "sqlite": (
        "(CASE WHEN lines.quantity * lines.unit_price >= 0 "
        "THEN (lines.quantity * lines.unit_price + 500) / 1000 "
        "ELSE -((500 - lines.quantity * lines.unit_price) / 1000) END)"
    ),
    "postgresql": "round(lines.quantity * lines.unit_price, 2)",
}

FILL = """
INSERT INTO actor_event_nets (organisation_id, event_id, event_starts_at, event_status, open_net, accepted_net)
SELECT lines.organisation_id, lots.event_id, events.starts_at, events.status, coalesce(sum({net}), 0),
       coalesce(sum(CASE WHEN assignments.id IS NOT NULL THEN {net} ELSE 0 END), 0)
FROM lines JOIN lots ON lots.id = lines.lot_id JOIN events ON events.id = lots.event_id
LEFT OUTER JOIN assignments ON assignments.lot_id = lines.lot_id
    AND assignments.organisation_id = lines.organisation_id AND assignments.status = 'accepted'
WHERE lots.status = 'open'
GROUP BY lines.organisation_id, lots.event_id, events.starts_at, events.status
"""


def upgrade():
    op.create_table(
        "actor_event_nets",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("event_starts_at", app.db.UTCDateTime(), nullable=False),
        sa.Column(
            "event_status",
            sa.Enum(
                "draft", "consulting", "quoted", "won", "lost", "delivered", "closed", "cancelled",
                name="event_status", native_enum=False, create_constraint=True,
            ),
            nullable=False,
        ),
        # Wider than Money(): sums of nets of lines whose quantity and price may fill their columns.
        sa.Column("open_net", ExactDecimal(38, 2), nullable=False),
        sa.Column("accepted_net", ExactDecimal(38, 2), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_actor_event_nets_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_actor_event_nets_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", "event_id", name=op.f("pk_actor_event_nets")),
    )
    op.create_index(op.f("ix_actor_event_nets_event_id"), "actor_event_nets", ["event_id"], unique=False)
    op.create_index(
        "ix_actor_event_nets_organisation_starts_at",
        "actor_event_nets",
        ["organisation_id", "event_starts_at"],
        unique=False,
    )
    op.execute(FILL.format(net=NET[op.get_bind().dialect.name]))


def downgrade():
    op.drop_index("ix_actor_event_nets_organisation_starts_at", table_name="actor_event_nets")
    op.drop_index(op.f("ix_actor_event_nets_event_id"), table_name="actor_event_nets")
    op.drop_table("actor_event_nets")
