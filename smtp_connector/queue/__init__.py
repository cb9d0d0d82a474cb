"""Queued sending: the outbox (one row per message, the source of truth for its state), the
embedded SQLite engine with its in-process worker, and the PostgreSQL engine on procrastinate,
behind one claim/complete contract (`outbox.Outbox`); the retry policy is data (`policy`).
Imports the store (its `Sender` seam, `SendJob`) and the library (errors, the checkpoint before
DATA); never server or cli, and the store never imports this package.
"""

from .outbox import Claim, Finish, NewMessage, Outbox
from .policy import Decision, RetryPolicy
from .runtime import Queue, QueueOptions
from .sender import QueueSender

__all__ = [
    "Claim",
    "Decision",
    "Finish",
    "NewMessage",
    "Outbox",
    "Queue",
    "QueueOptions",
    "QueueSender",
    "RetryPolicy",
]
