"""Metaflow's `Metaflow()`, the client's root object (the flows of the datastore the client
reads), and `default_metadata()`."""

from __future__ import annotations

from collections.abc import Iterator

from sfncompile.client.core import Flow, datastore_root, get_metadata, set_datastore_root
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import open_storage


class Metaflow:
    """Every flow with a run in the datastore: `Metaflow().flows`, `Metaflow()["MyFlow"]`."""

    def __repr__(self) -> str:
        return "Metaflow()"

    def __iter__(self) -> Iterator[Flow]:
        storage = open_storage(datastore_root())
        for name in storage.list_dirs(""):
            if name.isidentifier() and ds.list_runs(storage, name):
                yield Flow(name)

    def __getitem__(self, name: str) -> Flow:
        return Flow(name)

    @property
    def flows(self) -> list[Flow]:
        return list(self)

    @property
    def metadata(self) -> str:
        return get_metadata()


def default_metadata() -> str:
    """Read runs from the default datastore root again; returns it as `get_metadata` does."""
    set_datastore_root(None)
    return get_metadata()
