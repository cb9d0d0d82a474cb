"""security: dialect apps by marker, TLS trust per definition, S/MIME key paths, send scope

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

- `apps.kind` marks the apps the service creates for the privacyIDEA and portal dialects; the
  apps those dialects created by name before this revision are marked here.
- `server_definitions.tls_ca` / `verify_certificate`: a private CA per definition, and the
  certificate check switch (on for every existing definition).
- `server_definitions.smime_private_key_path`: a key named by a path inside
  SMTP_CONNECTOR_SMIME_DIR (not a secret, unlike a PEM key).
- `server_definitions.allow_special_use_domains`: a sender such as `otp@corp.local` (the
  privacyIDEA dialect's definitions allow it, as privacyIDEA does).
- API keys: the new `smtpserver_send` scope is given to every existing key with
  `smtpserver_write` (before this revision, write keys could send; read-only keys lose it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DIALECT_APPS = ("privacyidea", "portal")


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_apps_kind", ["kind"])
    apps = sa.table("apps", sa.column("name", sa.String), sa.column("kind", sa.String))
    for name in _DIALECT_APPS:
        op.execute(apps.update().where(apps.c.name == name).values(kind=name))

    with op.batch_alter_table("server_definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tls_ca", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("verify_certificate", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("smime_private_key_path", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "allow_special_use_domains", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )

    _grant_send_to_writers()


def _grant_send_to_writers() -> None:
    keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("scopes", sa.String))
    connection = op.get_bind()
    for key_id, scopes in connection.execute(sa.select(keys.c.id, keys.c.scopes)).all():
        granted = set(scopes.split(","))
        if "smtpserver_write" in granted and "smtpserver_send" not in granted:
            granted.add("smtpserver_send")
            connection.execute(
                keys.update().where(keys.c.id == key_id).values(scopes=",".join(sorted(granted)))
            )


def downgrade() -> None:
    keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("scopes", sa.String))
    connection = op.get_bind()
    for key_id, scopes in connection.execute(sa.select(keys.c.id, keys.c.scopes)).all():
        kept = [s for s in scopes.split(",") if s != "smtpserver_send"] or ["smtpserver_read"]
        connection.execute(keys.update().where(keys.c.id == key_id).values(scopes=",".join(kept)))
    with op.batch_alter_table("server_definitions", schema=None) as batch_op:
        batch_op.drop_column("allow_special_use_domains")
        batch_op.drop_column("smime_private_key_path")
        batch_op.drop_column("verify_certificate")
        batch_op.drop_column("tls_ca")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_constraint("uq_apps_kind", type_="unique")
        batch_op.drop_column("kind")
