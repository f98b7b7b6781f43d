"""The `sfncompile` command: the console script and `python -m sfncompile`.

`sfncompile run` starts its run's fork server first thing, before the command line loads
(click, the parser), so that the server's interpreter start-up and imports overlap this one's
(sfncompile.local.worker.start_early).
"""

import sys


def main() -> None:
    if sys.argv[1:2] == ["run"] and "--help" not in sys.argv:
        from sfncompile.local.worker import start_early

        start_early()
    from sfncompile.cli import main as command

    command()


if __name__ == "__main__":
    main()
