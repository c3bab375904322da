"""Command line: one parser built from the commands, which register themselves.

Each module of ``cmpl.commands`` that declares ``COMMAND`` adds its arguments and runs (``add_arguments``,
``run``); this module only loops over them and turns what a command raises into one line and an exit status.
Errors a user can fix (``cmpl.errors.UserError``: a bad config key, a malformed annotation line, a missing
file, a run folder in use) end with one ``error:`` line and exit status 2; anything else is a bug and shows
its traceback. ``--debug`` shows the traceback of both. Exit statuses: 0 done, 1 done but some inputs failed
(listed), 2 user error, 75 training stopped by SIGTERM/SIGINT after writing a checkpoint (resume with
``--resume``), 130 interrupted at once (a second Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

import cmpl
from cmpl import commands
from cmpl.errors import TrainingStopped, UserError

__all__ = ["EXIT_STOPPED", "EXIT_USER_ERROR", "main"]

EXIT_USER_ERROR = 2
EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on request with a checkpoint written; run again with --resume


EPILOG = """examples:
  cmpl demo                                            supervised vs FixMatch vs CMPL on synthetic videos
  cmpl train ucf101/cmpl_r50_1pct data.root=/data/ucf101 optim.base_lr=0.05
  torchrun --nproc-per-node 8 -m cmpl train kinetics400/cmpl_r50_1pct
  cmpl evaluate runs/ucf101_cmpl --views 10x3
  cmpl predict runs/ucf101_cmpl video.mp4
  cmpl report runs/ucf101_cmpl                         training curves, per-class accuracy, confusion
"""


def command_modules() -> list[ModuleType]:
    """Every module of ``cmpl.commands`` that declares a command (``COMMAND``, ``HELP``, ``add_arguments``,
    ``run``): a new command is one new file there."""
    found = (
        importlib.import_module(f"cmpl.commands.{m.name}") for m in pkgutil.iter_modules(commands.__path__)
    )
    return sorted((m for m in found if hasattr(m, "COMMAND")), key=lambda m: m.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmpl",
        description="Cross-Model Pseudo-Labeling for semi-supervised video action recognition.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cmpl {cmpl.__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules():
        description = getattr(module, "DESCRIPTION", None) or (module.__doc__ or "").split("\n\n")[0]
        command = sub.add_parser(module.COMMAND, help=module.HELP, description=description)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def _expand_shorthand(argv: list[str]) -> list[str]:
    """A command's own ``shorthand`` may rewrite its arguments before parsing (``report RUN``)."""
    for i, word in enumerate(argv):
        if not word.startswith("-"):
            module = next((m for m in command_modules() if word == m.COMMAND), None)
            if module is not None and hasattr(module, "shorthand"):
                return [*argv[: i + 1], *module.shorthand(argv[i + 1 :])]
            return argv
    return argv


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; ``KEY=VALUE`` overrides may also come after options: ``train cfg --resume a.b=1``."""
    args, extra = parser.parse_known_args(_expand_shorthand(argv))
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(build_parser(), list(sys.argv[1:] if argv is None else argv))
    try:
        status = args.handler(args)
    except UserError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except TrainingStopped as e:
        if os.environ.get("RANK", "0") == "0":  # under torchrun, one line for the run, not one per rank
            print(e, file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    return status or 0


if __name__ == "__main__":  # `python -m cmpl.cli` as well as `python -m cmpl`: not a silent no-op
    sys.exit(main())
