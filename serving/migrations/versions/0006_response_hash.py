"""Screenings keep the SHA-256 of the response their screener was given, and whether it showed
probabilities, so that ``tarozu audit-log verify --recompute`` can re-score a case and prove it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Both columns are nullable and rows written before them have none: the hash chain leaves them out
of a row's hashed content when empty (see ``serving.auditlog.canonical``), so those rows keep their
hashes, and ``--recompute`` reports them as not recomputable rather than as failures.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("screenings", sa.Column("response_sha256", sa.String(64), nullable=True))
    op.add_column("screenings", sa.Column("response_probabilities", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screenings") as batch:
        batch.drop_column("response_probabilities")
        batch.drop_column("response_sha256")
