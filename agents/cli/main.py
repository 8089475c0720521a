"""The ``fh-gym`` command line. It is the application layer: it composes ``fh_gym``, ``agents`` and
``restorers`` (the libraries themselves never import the CLI, and ``fh_gym`` never imports ``agents``).

Conventions every command follows:

* a misuse (a bad flag, a bad config value, a missing file) ends in **one line** naming the problem on stderr
  and exit status 2; an unexpected error in one line with its type and exit status 1; ``--debug`` (before or
  after the command) shows the traceback instead;
* Ctrl-C exits 130 and SIGTERM 143 (128 + the signal), training commands after checkpointing;
* ``--threads N`` and ``--debug`` are accepted before or after the command.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any, NoReturn

from fh_gym import __version__
from fh_gym.agents.cli import (
    bench,
    compare,
    demo,
    finetune,
    hallucinate,
    pretrain,
    record,
    train,
    train_generator,
    verify,
    weights,
)
from fh_gym.restorers.config import ConfigError, Int
from fh_gym.restorers.training.session import Interrupted

COMMANDS = (demo, pretrain, finetune, train_generator, train, compare, record, hallucinate, bench, verify, weights)
#: errors that say the user asked for something that cannot be done (exit status 2, like argparse's)
USER_ERRORS = (ConfigError, ValueError, OSError)
THREADS_HELP = ("torch intra-op threads (default: torch's). With other jobs on the same cores, 1 thread per process "
                "is often much faster than oversubscribing them")


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``fh-gym train: error: argument --timesteps: invalid --timesteps: 0
    (expected an integer >= 1) (see fh-gym train --help)`` instead of the usage block. Flags are never
    abbreviated: ``verify --data`` would otherwise be read as ``--data-root``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_global_flags(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("--threads", type=Int(min=1).argparse_type("--threads"), metavar="N", default=default,
                        help=THREADS_HELP)
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback of an error instead of its one-line message")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="fh-gym", description="Patch-selection face hallucination gym.")
    parser.add_argument("--version", action="version", version=f"fh-gym {__version__}")
    _add_global_flags(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    for command in sub.choices.values():
        # After the command too; SUPPRESS keeps a value given before it.
        _add_global_flags(command, argparse.SUPPRESS)
    parser.commands = dict(sub.choices)  # name -> its parser (errors about its arguments)
    return parser


def _terminate(signum: int, frame: object) -> None:
    # Schedulers and `kill` send SIGTERM; training loops defer it to a step boundary and checkpoint first.
    raise Interrupted("terminated", signal.SIGTERM)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (some libraries' messages span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command they were given to, whose --help lists what it takes
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    previous_sigterm = signal.signal(signal.SIGTERM, _terminate)
    name = f"fh-gym {args.command}"
    try:
        if args.threads:
            import torch  # lazy: `fh-gym --help` and argument errors never need it

            torch.set_num_threads(args.threads)
        return int(args.func(args) or 0)
    except Interrupted as exc:
        print(f"{name}: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"{name}: {one_line(exc) if str(exc) else 'interrupted'}", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, USER_ERRORS):
            print(f"{name}: error: {one_line(exc)}", file=sys.stderr)
            return 2
        print(f"{name}: error: {type(exc).__name__}: {one_line(exc)} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)  # main() is also called in-process (tests, scripts)


if __name__ == "__main__":
    sys.exit(main())
