"""app sender: a From address, name and default locale per app

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

- `apps.from_email` / `apps.from_name`: the sender a definition without its own uses (the
  per-app list's `defaultfromemail` and privacyIDEA's `sender` are optional in their seeds).
- `apps.default_locale`: the locale a send falls back to before English.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("from_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("default_locale", sa.String(length=35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("default_locale")
        batch_op.drop_column("from_name")
        batch_op.drop_column("from_email")
