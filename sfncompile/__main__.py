"""The `sfncompile` command: the console script and `python -m sfncompile`.

`sfncompile run` starts its run's fork server first thing, before the command line loads
(click, the parser), so that the server's interpreter start-up and imports overlap this one's
(sfncompile.local.worker.start_early); and it ends without tearing the interpreter down.
"""

import sys


def main() -> None:
    running = sys.argv[1:2] == ["run"] and "--help" not in sys.argv
    if running:
        from sfncompile.local.worker import start_early

        start_early()
    from sfncompile.cli import main as command

    try:
        command()
    except SystemExit as done:
        if not running:
            raise
        _leave(done.code)


def _leave(code: object) -> None:
    """Exit as SystemExit(code) would, without the interpreter's teardown of every module and
    object (some 20 ms after a run, when a 100-task run takes under a second): atexit's
    functions still run and the streams are flushed. Only when no other thread runs, which
    the teardown would wait for."""
    import atexit
    import os
    import threading

    if threading.active_count() > 1:
        raise SystemExit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed stdout: as the interpreter's own exit reports it
        status = status or 120
    os._exit(status)


if __name__ == "__main__":
    main()
