"""Screenings keep which form of the explained result their screener was given (``compact``: the top
reasons, the default since this revision; ``full``: every contribution), so that the response hash
can be rebuilt; and their rows stop storing what can be recomputed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The column is nullable and rows written before it have none: they were given the full form. The hash
chain leaves an empty ``response_explain`` out of a row's hashed content (see
``serving.auditlog.writer.canonical``), so those rows keep their hashes. No data changes: rows written
from this revision on keep only the answers, context and audit attributes that were given (the rest are
at their reference level, filled in when read) and no per-field contributions (a pure function of
the answers and the model version, recomputed when read); older rows keep everything they stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("screenings", sa.Column("response_explain", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screenings") as batch:
        batch.drop_column("response_explain")
