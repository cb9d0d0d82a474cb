"""What the operator allows stored definitions to do, in one value the domain services share:
where they may connect (`network`) and where S/MIME key files may live (`smime_dir`); and how
many definitions an app may hold by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .network import NetworkPolicy

DEFAULT_MAX_PER_APP = 50  # definitions per app (SMTP_CONNECTOR_MAX_DEFINITIONS_PER_APP)


@dataclass(frozen=True)
class ServicePolicy:
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    smime_dir: Path | None = None  # SMTP_CONNECTOR_SMIME_DIR; None: PEM text only
