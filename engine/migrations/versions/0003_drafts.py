"""drafts: the UI's unsaved canvas edits, by key (browser and flow).

The table came with the UI's draft keeping; databases opened by that code before
this migration existed already have it (made by `create_all`), so it is created
only when missing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("drafts"):
        return
    op.create_table(
        "drafts",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drafts")
