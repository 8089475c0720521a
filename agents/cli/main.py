"""The ``fh-gym`` command line. It is the application layer: it composes ``fh_gym``, ``agents`` and
``restorers`` (the libraries themselves never import the CLI, and ``fh_gym`` never imports ``agents``)."""

from __future__ import annotations

import argparse
import signal
import sys

from fh_gym import __version__
from fh_gym.agents.cli import bench, compare, demo, hallucinate, pretrain, record, train, train_generator, verify
from fh_gym.restorers.config import ConfigError

COMMANDS = (demo, pretrain, train_generator, train, compare, record, hallucinate, bench, verify)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fh-gym", description="Patch-selection face hallucination gym.")
    parser.add_argument("--version", action="version", version=f"fh-gym {__version__}")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch intra-op threads (default: torch's). With other jobs on the same cores, 1 thread "
                             "per process is often much faster than oversubscribing them")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def _terminate_like_ctrl_c(signum: int, frame: object) -> None:
    # Schedulers and `kill` send SIGTERM: stop as on Ctrl-C (checkpoint, then exit 130), not mid-write.
    raise KeyboardInterrupt("terminated (SIGTERM)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous_sigterm = signal.signal(signal.SIGTERM, _terminate_like_ctrl_c)
    if args.threads:
        import torch  # lazy: `fh-gym --help` and most argument errors never need torch

        torch.set_num_threads(args.threads)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"fh-gym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"fh-gym {args.command}: {exc or 'interrupted'}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)  # main() is also called in-process (tests, scripts)


if __name__ == "__main__":
    sys.exit(main())
