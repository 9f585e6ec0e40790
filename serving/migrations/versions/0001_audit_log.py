"""Audit log: screenings, decisions, outcomes, corrections (one hash chain) and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _event() -> list[sa.Column]:
    return [
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
    ]


def _chain() -> list[sa.Column]:
    return [
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "screenings",
        *_event(),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("questionnaire_version", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column("case_ref_hmac", sa.String(64), nullable=True),
        sa.Column("screener_assessment", sa.String(16), nullable=True),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("audit", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("refer", sa.Boolean(), nullable=False),
        *_chain(),
        sa.PrimaryKeyConstraint("seq", name="pk_screenings"),
        sa.UniqueConstraint("screening_id", name="uq_screenings_screening_id"),
    )
    op.create_index("ix_screenings_created_at", "screenings", ["created_at"])
    op.create_table(
        "decisions",
        *_event(),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("recommendation_refer", sa.Boolean(), nullable=False),
        sa.Column("differs", sa.Boolean(), nullable=False),
        *_chain(),
        sa.PrimaryKeyConstraint("seq", name="pk_decisions"),
        sa.ForeignKeyConstraint(
            ["screening_id"], ["screenings.screening_id"], name="fk_decisions_screening_id_screenings"
        ),
        sa.UniqueConstraint("screening_id", name="uq_decisions_screening_id"),
    )
    op.create_table(
        "outcomes",
        *_event(),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        *_chain(),
        sa.PrimaryKeyConstraint("seq", name="pk_outcomes"),
        sa.ForeignKeyConstraint(
            ["screening_id"], ["screenings.screening_id"], name="fk_outcomes_screening_id_screenings"
        ),
    )
    op.create_index("ix_outcomes_screening_id", "outcomes", ["screening_id"])
    op.create_table(
        "corrections",
        *_event(),
        sa.Column("screening_id", sa.String(36), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        *_chain(),
        sa.PrimaryKeyConstraint("seq", name="pk_corrections"),
        sa.ForeignKeyConstraint(
            ["screening_id"], ["screenings.screening_id"], name="fk_corrections_screening_id_screenings"
        ),
    )
    op.create_index("ix_corrections_screening_id", "corrections", ["screening_id"])
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chain_head"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.Column("dev", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )


def downgrade() -> None:
    for table in ("api_keys", "chain_head", "corrections", "outcomes", "decisions", "screenings"):
        op.drop_table(table)
