"""Bulk calls keep the outlook rule their cases were scored with (``models.interview.RULES``), as
screenings keep it in their result: a bulk output's settled flags, flip chances and next questions are
reproduced with the model version and the rule together.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

The column is nullable and rows written before it have none: they were scored with rule 1. The hash
chain leaves an empty ``outlook_rule`` out of a row's hashed content (see
``serving.auditlog.writer.canonical``), so those rows keep their hashes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bulk_scorings", sa.Column("outlook_rule", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bulk_scorings") as batch:
        batch.drop_column("outlook_rule")
