"""Artifact names with a meaning of their own."""

# Every task stores the flow's name as the artifact `name`, as Metaflow's do (`self.name`):
# the flow sets it (flow/flowspec.py), the runtime saves it and adds it to a reused task of
# a run recorded before it existed (runtime/reuse.py), and the default card leaves it out.
FLOW_NAME_ARTIFACT = "name"
