"""Supervisor overrides: a decision or correction on another key's screening says why.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-15

The column is nullable and rows written before it have none: the hash chain leaves an empty
``override_reason`` out of a row's hashed content (see ``serving.auditlog.canonical``), so
their hashes still hold.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("decisions", "corrections")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("override_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("override_reason")
