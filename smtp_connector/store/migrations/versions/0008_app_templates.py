"""app templates: templates per app (usage type x language tag) with their history

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

- `app_templates`: an app's template details per usage type and language tag (Logto's
  `subject, content, contentType, replyTo, sendFrom`, plus an optional text part), unique per
  (app, usage type, lower-cased tag); deleted with the app.
- `app_template_history`: the last versions of each, who saved them and when.
- `apps.templates_version`: grows on every template change, so senders reload their snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _details() -> list[sa.Column[object]]:
    return [
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("reply_to", sa.String(length=400), nullable=True),
        sa.Column("send_from", sa.String(length=400), nullable=True),
        sa.Column("text_content", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("templates_version", sa.Integer(), nullable=False, server_default="1")
        )
    op.create_table(
        "app_templates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("usage_type", sa.String(length=100), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("locale_key", sa.String(length=35), nullable=False),
        *_details(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("app_id", "usage_type", "locale_key", name="uq_app_template"),
    )
    op.create_index("ix_app_templates_app_id", "app_templates", ["app_id"])
    op.create_table(
        "app_template_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("usage_type", sa.String(length=100), nullable=False),
        sa.Column("locale_key", sa.String(length=35), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_details(),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_app_template_history_key",
        "app_template_history",
        ["app_id", "usage_type", "locale_key", "version"],
    )


def downgrade() -> None:
    op.drop_index("ix_app_template_history_key", table_name="app_template_history")
    op.drop_table("app_template_history")
    op.drop_index("ix_app_templates_app_id", table_name="app_templates")
    op.drop_table("app_templates")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("templates_version")
