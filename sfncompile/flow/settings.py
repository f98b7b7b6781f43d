"""`metaflow.metaflow_config`: Metaflow's settings as a flow reads them
(`from metaflow.metaflow_config import DATATOOLS_S3ROOT`).

Metaflow takes a setting NAME from the environment variable `METAFLOW_NAME` first; this
module answers from the environment only, as text. A setting that is not set is an
AttributeError naming the variable (so `from ... import NAME` fails at the import): sfncompile
has no Metaflow configuration file, and its own settings (its datastore root, its AWS
resources) are not Metaflow's.
"""

from __future__ import annotations

import os

PREFIX = "METAFLOW_"


def __getattr__(name: str) -> str:
    value = os.environ.get(PREFIX + name) if not name.startswith("__") else None
    if value is None:
        raise AttributeError(f"metaflow.metaflow_config.{name} is not set: sfncompile reads "
                             f"Metaflow's settings from the environment ({PREFIX}{name})")
    return value
