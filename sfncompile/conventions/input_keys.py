"""Keys of an execution's input that are not parameters (the client leaves them out): no
Parameter can be named so, as a parameter's name is a command-line option's."""

TRIGGER_KEY = "_sfncompile_trigger"  # what started a triggered run (runtime/events.py)
RESUME_INPUT_KEY = "__sfncompile_resume"  # what a run resumed --on-aws reuses (runtime/reuse.py)

# An IncludeFile's value in a run's input: a reference to the file's bytes, stored once in the
# run's datastore as a blob named by their sha256 (datastore.layout.save_file), never the
# content itself (Step Functions takes 256 KiB of input; `show` and cards print the input).
INCLUDE_TYPE = "include"


def include_reference(sha256: str, size: int, name: str) -> dict[str, object]:
    return {"type": INCLUDE_TYPE, "sha256": sha256, "size": size, "name": name}


def is_include_reference(value: object) -> bool:
    return (isinstance(value, dict) and value.get("type") == INCLUDE_TYPE
            and isinstance(value.get("sha256"), str) and isinstance(value.get("size"), int))


def describe_include(param: str, ref: dict[str, object]) -> str:
    """One line for a reference where a run's inputs are shown (show, status, cards)."""
    size, sha = ref["size"], str(ref["sha256"])
    return f"IncludeFile {param}: {_size(size if isinstance(size, int) else 0)}, sha256 {sha[:12]}"


def _size(n: int) -> str:
    if n < 1000:
        return f"{n:,} bytes"
    value, unit = n / 1000, "KB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"
