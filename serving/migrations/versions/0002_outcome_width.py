"""Specialist outcomes: room for labour_rights_violation and other_vulnerability (32 characters).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outcomes") as batch:
        batch.alter_column("outcome", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("outcomes") as batch:
        batch.alter_column("outcome", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
