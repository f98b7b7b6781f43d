"""`default_metadata()`, beside `Metaflow()` (client/core.py), the client's root object: the
names that Metaflow's client module exports besides the objects."""

from __future__ import annotations

from sfncompile.client.core import Metaflow, get_metadata, set_datastore_root

__all__ = ["Metaflow", "default_metadata"]


def default_metadata() -> str:
    """Read runs from the default datastore root again; returns it as `get_metadata` does."""
    set_datastore_root(None)
    return get_metadata()
