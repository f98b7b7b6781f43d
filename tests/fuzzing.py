"""Mutated flow files, and the check that `sfncompile` answers each one cleanly.

Shared by tests/test_fuzz.py (a seeded run in CI) and benchmarks/fuzz_bench.py (a long run).
Inputs start from the repository's own flows and are mutated by line and token edits,
truncation, random bytes, other encodings, deep nesting, injected decorators and parameters,
unicode identifiers, and generated huge and very wide flows. Every input goes through the
CLI's own entry point in this process (click's CliRunner): `build` must exit 0 or 2, never
with a traceback, every error line must be `path:line:col: message`, and a flow that builds
must also build as CloudFormation and draw as a graph, and its ASL must pass the schema.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from sfncompile.cli import main
from sfncompile.emit.asl_checks import validate_asl

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"\d+ errors? found")

# -- seeds --------------------------------------------------------------------------------------


# Flows that once crashed the compiler, kept whole: mutations start from them too, and
# tests/test_fuzz.py checks each one as it is.
HOSTILE_SEEDS = {
    # Metaflow's default (daily) schedule, spelled out; it was an AttributeError.
    "schedule_cron_none": b"""\
from sfncompile import FlowSpec, schedule, step


@schedule(cron=None)
class CronNoneFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
""",
}


def seed_flows() -> list[bytes]:
    """The repository's flows: goldens, examples and test data (broken ones included), and
    the hostile seeds."""
    paths = [*sorted(ROOT.glob("golden/*/flow*.py")), *sorted(ROOT.glob("examples/*.py")),
             *sorted(ROOT.glob("tests/data/flows/*.py")),
             *sorted(ROOT.glob("tests/data/broken/*.py"))]
    return [p.read_bytes() for p in paths] + list(HOSTILE_SEEDS.values())


# -- values the mutations draw from -------------------------------------------------------------

NUMBERS = ["0", "-1", "1", "2", "1.5", "1e999", "-1e999", "100000000", "99999999", "27778",
           "192", "193", "4", "3", "25165825", "True", "None", "10**30", "0x10", "1_000",
           "9" * 40, "²", "٣", "float('nan')"]
STRINGS = ["''", "'x'", "'items'", "'0 6 * * ? *'", "'0 ² * * ? *'", "'cron(0 6 * * ? *)'",
           "'rate(5 minutes)'", "'rate(0 minutes)'", "'${JobQueue}'", "'a\\x00b'", "'é'",
           "'inline'", "'distributed'", "b'x'", "f'{x}'", "'''doc'''", "'" + "x" * 300 + "'"]
CONTAINERS = ["{1, 2}", "{1: 2}", "{'a': [1, {'b': None}]}", "[]", "()", "{}", "[1, 2]",
              "{'X': 1}", "{'1X': 'a'}", "{'X': [1]}", "{**a}", "[*a]"]
DECORATORS = {
    "retry": ["times", "minutes_between_retries"],
    "timeout": ["seconds", "minutes", "hours"],
    "resources": ["cpu", "memory", "gpu", "shared_memory"],
    "batch": ["cpu", "memory", "gpu", "image", "queue", "iam_role", "shared_memory"],
    "catch": ["var", "print_exception"],
    "environment": ["vars"],
    "foreach_options": ["mode", "max_concurrency"],
    "schedule": ["cron", "daily", "hourly", "weekly", "timezone"],
    "card": ["type"],
    "step": [],
}
KEYWORDS = ["self", "inputs", "step", "next", "foreach", "condition", "def", "class", "pass",
            "return", "yield", "lambda", "async", "await", "if", "else", "for", "in", "not",
            "FlowSpec", "Parameter", "JSONType", "import", "from", "metaflow", "sfncompile",
            "start", "end", "join", "input", "index", "merge_artifacts", "*", "**", ",", ":",
            "(", ")", "[", "]", "{", "}", "=", ".", "@", "\t", "\n", "    ", "\\", "#", "'",
            '"', ";"]
# Spellings of `start` that Python's NFKC normalisation folds back to it.
FULLWIDTH_START = "".join(chr(ord(c) + 0xFEE0) for c in "start")
FRAKTUR_START = "".join(chr(0x1D51E + ord(c) - ord("a")) for c in "start")
UNICODE = ["\u00e9", "\u00df", "\ufb01", "\u210c", "\u03a9", "\u540d\u524d", "\u200b",
           "\u202e", "\ufeff", FRAKTUR_START, FULLWIDTH_START, "\u0301", "\U0001f600", "\r",
           "\x0c", "\u2028"]
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9_.eExX]*|\s+|.", re.S)


def _value(rng: random.Random) -> str:
    pool = rng.choice([NUMBERS, STRINGS, CONTAINERS])
    return rng.choice(pool)


def _decorator(rng: random.Random) -> str:
    name = rng.choice(list(DECORATORS))
    args = DECORATORS[name]
    if not args or rng.random() < 0.1:
        return f"@{name}"
    chosen = rng.sample(args, rng.randint(1, len(args)))
    return f"@{name}({', '.join(f'{a}={_value(rng)}' for a in chosen)})"


def _deep(rng: random.Random, depth: int) -> str:
    kind = rng.choice(["paren", "list", "neg", "not", "ifexp", "dict", "add", "lambda", "call"])
    core = _value(rng)
    if kind == "paren":
        return "(" * depth + core + ")" * depth
    if kind == "list":
        return "[" * depth + core + "]" * depth
    if kind == "dict":
        return "{'a': " * depth + core + "}" * depth
    if kind == "neg":
        return "-" * depth + "1"
    if kind == "not":
        return "not " * depth + "1"
    if kind == "ifexp":
        return "1 if 1 else " * depth + "1"
    if kind == "lambda":
        return "lambda: " * depth + "1"
    if kind == "call":
        return "f" + "(" * depth + ")" * depth
    return "+".join(["1"] * depth)


# -- mutations: each takes and returns the source as bytes --------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def delete_lines(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    for _ in range(rng.randint(1, 3)):
        if len(lines) > 1:
            del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def duplicate_or_swap_lines(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    if rng.random() < 0.5:
        lines.insert(j, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def lines_from_elsewhere(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    lines = _lines(data)
    other = _lines(rng.choice(seeds))
    start = rng.randrange(len(other))
    chunk = other[start:start + rng.randint(1, 8)]
    at = rng.randrange(len(lines) + 1)
    return b"\n".join(lines[:at] + chunk + lines[at:])


def reindent(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    lines[i] = (b" " * rng.choice([1, 2, 4, 8]) + lines[i] if rng.random() < 0.5
                else lines[i].lstrip())
    return b"\n".join(lines)


def token_edits(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    text = data.decode("utf-8", errors="replace")
    tokens = TOKEN.findall(text)
    words = [t for t in tokens if t[:1].isalpha() or t[:1] == "_"] or ["x"]
    for _ in range(rng.randint(1, 4)):
        if not tokens:
            break
        i = rng.randrange(len(tokens))
        action = rng.random()
        if action < 0.25:
            del tokens[i]
        elif action < 0.45:
            tokens.insert(i, tokens[i])
        elif action < 0.65:
            tokens[i] = rng.choice(words)
        elif action < 0.8:
            tokens[i] = rng.choice(KEYWORDS)
        elif action < 0.9:
            tokens[i] = rng.choice(NUMBERS + STRINGS)
        else:
            tokens[i] = rng.choice(UNICODE) + tokens[i]
    return "".join(tokens).encode("utf-8", errors="surrogatepass")


LITERAL = re.compile(rb"""'[^'\n]*'|"[^"\n]*"|\b[0-9][0-9_.eE]*\b""")


def replace_literal(rng: random.Random, data: bytes) -> bytes:
    """Swap one string or number literal (a decorator argument, a switch arm, a default...)
    for another value, keeping the rest of the flow intact."""
    spans = [m.span() for m in LITERAL.finditer(data)]
    if not spans:
        return data
    start, end = rng.choice(spans)
    value = rng.choice([_value(rng), repr(rng.choice(UNICODE)), repr("x" * rng.randint(60, 200)),
                        repr(rng.choice(["a b", "${Secret}", "-", "0", "", "items", "start"]))])
    return data[:start] + value.encode("utf-8", errors="surrogatepass") + data[end:]


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(out) + 1)
        if rng.random() < 0.5 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return bytes(out)


def other_encoding(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", errors="replace")
    choice = rng.randrange(5)
    if choice == 0:
        return text.encode("utf-16")
    if choice == 1:
        return ("# caf\u00e9\n" + text).encode("latin-1", errors="replace")
    if choice == 2:
        return ("# -*- coding: latin-1 -*-\n# caf\u00e9\n" + text).encode("latin-1",
                                                                        errors="replace")
    if choice == 3:
        return b"# -*- coding: no-such-codec -*-\n" + data
    return b"\xef\xbb\xbf" + data  # a UTF-8 byte order mark


def unicode_names(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8", errors="replace")
    names = sorted(set(re.findall(r"def (\w+)", text))) or ["start"]
    name = rng.choice(names)
    new = rng.choice([name + rng.choice(UNICODE), "\ufb01" + name, name.upper(),
                      FULLWIDTH_START, FRAKTUR_START, name[:1] + "\u0301" + name[1:],
                      "\u00e9" * rng.randint(1, 90)])
    count = rng.randint(1, 3)
    return text.replace(name, new, count).encode("utf-8", errors="surrogatepass")


def inject_decorator(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    targets = [i for i, line in enumerate(lines)
               if line.strip().startswith((b"@step", b"class ", b"def "))] or [0]
    i = rng.choice(targets)
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    lines.insert(i, indent + _decorator(rng).encode())
    return b"\n".join(lines)


def inject_parameter(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith(b"class ")), 0)
    args = [rng.choice(["'p'", "'x y'", "''", "'start'", "'p'", _value(rng)])]
    for key in rng.sample(["default", "type", "help", "required", "separator"],
                          rng.randint(0, 3)):
        value = rng.choice(["JSONType", "int", "str", "float", "bool", "list"]) \
            if key == "type" else _value(rng)
        args.append(f"{key}={value}")
    name = rng.choice(["p", "q", "start", "self", "x"])
    lines.insert(at, f"    {name} = Parameter({', '.join(args)})".encode())
    return b"\n".join(lines)


def deep_nesting(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    depth = rng.choice([30, 60, 99, 101, 200, 400, 1000, 5000])
    expr = _deep(rng, depth).encode()
    where = rng.random()
    if where < 0.3:  # a decorator argument
        at = next((i for i, line in enumerate(lines) if line.strip() == b"@step"), 0)
        lines.insert(at, b"    @retry(times=" + expr + b")")
    elif where < 0.5:  # a module constant
        lines.insert(0, b"X = " + expr)
    elif where < 0.7:  # a parameter default
        at = next((i + 1 for i, line in enumerate(lines) if line.startswith(b"class ")), 0)
        lines.insert(at, b"    p = Parameter('p', default=" + expr + b")")
    elif where < 0.85:  # a step body
        at = next((i for i, line in enumerate(lines) if b"self.next(" in line), 0)
        lines.insert(at, b"        x = " + expr)
    else:  # nested blocks
        at = next((i for i, line in enumerate(lines) if b"self.next(" in line), 0)
        block = [b"        " + b" " * k + b"if x:" for k in range(min(depth, 120))]
        lines[at:at] = [*block, b"        " + b" " * min(depth, 120) + b"pass"]
    return b"\n".join(lines)


def _generated(names: list[str], head: str, body: Callable[[str], str]) -> bytes:
    steps = [f"    @step\n    def {n}(self):\n        {body(n)}\n" for n in names]
    return ("from sfncompile import FlowSpec, step\n\n\nclass Huge(FlowSpec):\n"
            f"    @step\n    def start(self):\n        {head}\n\n" + "\n".join(steps)
            + "\n    @step\n    def join(self, inputs):\n        self.next(self.end)\n\n"
            "    @step\n    def end(self):\n        pass\n").encode()


def huge_flow(rng: random.Random, data: bytes, slow: bool = True) -> bytes:
    """A very wide split, a long chain, or a deep nest of foreach (`data` is not used).

    Without `slow`, only the sizes that are refused before the ASL is built, or are small."""
    shape = rng.choice(["wide", "long", "nested"])
    if shape == "wide":
        n = rng.choice([2, 40, 300, 2_999, 3_000, 3_001, 5_300] if slow else
                       [40, 3_001, 5_300, 20_000])
        names = [f"b{i}" for i in range(n)]
        head = "self.next(" + ", ".join(f"self.{b}" for b in names) + ")"
        return _generated(names, head, lambda _: "self.next(self.join)")
    if shape == "long":
        n = rng.choice([10, 300, 1_300, 5_243] if slow else [10, 5_243])
        names = [f"s{i}" for i in range(n)]
        following = {a: b for a, b in zip(names, [*names[1:], "join"], strict=True)}
        src = _generated(names, "self.next(self.s0)",
                         lambda s: f"self.next(self.{following[s]})").decode()
        return src.replace("def join(self, inputs)", "def join(self)").encode()
    n = rng.choice([3, 31, 32, 33, 200] if slow else [3, 33, 200])
    lines = ["from sfncompile import FlowSpec, step\n\n\nclass Nested(FlowSpec):"]
    for i in range(n):
        name = "start" if i == 0 else f"o{i}"
        nxt = f"o{i + 1}" if i + 1 < n else "leaf"
        lines.append(f"    @step\n    def {name}(self):\n        self.items = [1]\n"
                     f"        self.next(self.{nxt}, foreach='items')\n")
    lines.append(f"    @step\n    def leaf(self):\n        self.next(self.j{n - 1})\n")
    for i in range(n - 1, -1, -1):
        lines.append(f"    @step\n    def j{i}(self, inputs):\n"
                     f"        self.next(self.{f'j{i - 1}' if i else 'end'})\n")
    lines.append("    @step\n    def end(self):\n        pass\n")
    return "\n".join(lines).encode()


MUTATIONS: list[tuple[str, Callable[..., bytes], float]] = [
    # name, function, weight
    ("delete_lines", delete_lines, 2),
    ("duplicate_or_swap_lines", duplicate_or_swap_lines, 2),
    ("lines_from_elsewhere", lines_from_elsewhere, 2),
    ("reindent", reindent, 1),
    ("token_edits", token_edits, 4),
    ("replace_literal", replace_literal, 4),
    ("truncate", truncate, 1),
    ("random_bytes", random_bytes, 1),
    ("other_encoding", other_encoding, 0.5),
    ("unicode_names", unicode_names, 1),
    ("inject_decorator", inject_decorator, 3),
    ("inject_parameter", inject_parameter, 2),
    ("deep_nesting", deep_nesting, 1),
]
NEEDS_SEEDS = {"lines_from_elsewhere", "token_edits"}


@dataclass(frozen=True)
class FuzzInput:
    number: int
    mutations: tuple[str, ...]
    data: bytes


def fuzz_inputs(seed: int, count: int, huge_every: int = 250,
                slow_huge: bool = True) -> Iterator[FuzzInput]:
    """`count` inputs, the same for the same seed; one in `huge_every` is a generated huge,
    very wide or deeply nested flow (they cost far more than the rest; `slow_huge` includes
    those that are only refused after the ASL is built)."""
    rng = random.Random(seed)
    seeds = seed_flows()
    names = [m[0] for m in MUTATIONS]
    weights = [m[2] for m in MUTATIONS]
    funcs = {m[0]: m[1] for m in MUTATIONS}
    for number in range(count):
        if huge_every and number % huge_every == huge_every - 1:
            yield FuzzInput(number, ("huge_flow",), huge_flow(rng, b"", slow_huge))
            continue
        data = rng.choice(seeds)
        applied = tuple(rng.choices(names, weights, k=rng.choice([1, 1, 1, 2, 3])))
        for name in applied:
            args = (rng, data, seeds) if name in NEEDS_SEEDS else (rng, data)
            data = funcs[name](*args) or b"\n"
        yield FuzzInput(number, applied, data)


# -- the check ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    built: bool
    problem: str | None  # what went wrong, or None


def _invoke(runner: CliRunner, args: list[str]) -> tuple[int, str, str, BaseException | None]:
    result = runner.invoke(main, args, catch_exceptions=True)
    exc = result.exception
    if isinstance(exc, SystemExit):
        exc = None
    return result.exit_code, result.stdout, result.stderr, exc


# Who builds: a @project flow without a fixed branch deploys to the user's branch, and its
# CloudFormation template needs a user name (`deploy` refuses to guess one); the fuzzed
# flows are judged, not the machine's account (root has none).
FUZZ_ENV = {"METAFLOW_USER": "fuzzer"}


def check_flow_file(runner: CliRunner, path: Path) -> Outcome:
    """Build `path` through the CLI; say what is wrong with the answer, if anything."""
    code, out, err, exc = _invoke(runner, ["build", str(path)])
    if exc is not None or "Traceback" in out + err:
        return Outcome(False, f"build crashed: {type(exc).__name__}: {exc!s:.300}\n{err[-600:]}")
    if code not in (0, 2):
        return Outcome(False, f"build exited {code}:\n{err[-600:]}")
    if code == 2:
        lines = err.splitlines()
        if not lines:
            return Outcome(False, "build exited 2 without a message")
        prefix = re.compile(re.escape(str(path)) + r":(\d+):(\d+): \S")
        for line in lines:
            if SUMMARY.fullmatch(line):
                continue
            m = prefix.match(line)
            if m is None or int(m.group(1)) < 1 or int(m.group(2)) < 1:
                return Outcome(False, f"not a `path:line:col: message` line: {line[:300]!r}")
        return Outcome(False, None)
    # `build` may leave the schema check to the tests: this is one of them.
    problems = validate_asl(json.loads(out))
    if problems:
        return Outcome(True, "the ASL fails the schema (InvalidOutput):\n  "
                       + "\n  ".join(problems[:5]))
    for args in (["build", str(path), "--format", "cloudformation"], ["graph", str(path)],
                 ["graph", str(path), "--format", "dot"]):
        code, out, err, exc = _invoke(runner, args)
        if code != 0 or exc is not None:
            return Outcome(True, f"`{' '.join(args[:1] + args[2:])}` failed where build "
                           f"succeeded (exit {code}): {type(exc).__name__}: {exc!s:.300}\n"
                           f"{err[-600:]}")
    return Outcome(True, None)
