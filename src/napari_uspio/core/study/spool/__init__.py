"""Painting never waits on the network: a workstation's spool and its sender.

On a server study (``store = "postgresql://..."``) a reader's session writes to
:class:`~.store.SpooledStore`: the workstation's local SQLite spool first (the
write is acknowledged there), then the :class:`~.sender.Sender` thread sends it
to the server, in order, exactly once (:mod:`.ops`: a change as one row).
"""

from .sender import Sender
from .store import SPOOL_ENV, SpooledStore, spool_folder

__all__ = ["SPOOL_ENV", "Sender", "SpooledStore", "spool_folder"]
