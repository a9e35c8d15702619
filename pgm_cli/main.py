"""The ``pgm`` command's entry point: the top-level parser (each command adds its own
subparser, ``pgm_cli/commands/NAME.py``), the dispatch, and the one-line answer to bad input."""

from __future__ import annotations

import logging
import os
import re
import sys

try:  # Ctrl-C while the command starts: one line, no traceback (heavier imports come later)
    import _thread
    import argparse
    import importlib
    import os
    import signal
    import threading
    import warnings

    from .commands import COMMANDS
except KeyboardInterrupt:  # pragma: no cover - timing
    print("pgm: interrupted while starting; nothing was run or written", file=sys.stderr)
    raise SystemExit(130) from None

__all__ = ["build_parser", "console", "main", "one_line", "version"]

EPILOG = """examples:
  pgm suite --out results                        # train and compare the standard set on digits
  pgm train vae-digits --out runs/vae --set prior=vamp   # a shipped config, by name
  pgm evaluate runs/vae --num-particles 1000
  pgm evaluate runs/vae --method ais --steps 1000 --chains 16
  pgm sample runs/vae -n 64
  pgm list                                       # every model, prior, guide, likelihood, dataset
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake reported on one line (exit status 2), like every other
    bad input; ``--help`` shows the usage. Options are never abbreviated: ``--data`` on a
    command without it was taken as ``--data-dir``, silently."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        # argparse checks required arguments before it looks at unknown ones: `pgm train
        # --bogus` said "--out is required"; the mistake the user made comes first
        if message.startswith("the following arguments are required"):
            unknown = self.unknown_options(_ARGV)
            if unknown:
                message = f"unrecognized arguments: {' '.join(unknown)}"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def unknown_options(self, argv: list[str]) -> list[str]:
        """The tokens of ``argv`` that look like options (``-x``, ``--xy``, ``--xy=v``; not a
        negative number) and that this parser does not know."""
        known = set(self._option_string_actions) | {"--version"}
        unknown = []
        for token in argv:
            if not token.startswith("-") or token in ("-", "--") or _NUMBER.fullmatch(token):
                continue
            name = token.split("=", 1)[0]
            if name.startswith("--"):
                if name not in known:
                    unknown.append(token)
            elif name[:2] not in known:  # -k5: a short option with its value
                unknown.append(token)
        return unknown


_NUMBER = re.compile(r"-\d+(\.\d*)?([eE][-+]?\d+)?|-\.\d+([eE][-+]?\d+)?")
_ARGV: list[str] = []  # the arguments being parsed, for the error above


def version() -> str:
    """The installed distribution's version, or the source tree's ``pgm.__version__``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("pgm")
    except PackageNotFoundError:
        from pgm import __version__

        return __version__


class _Version(argparse.Action):
    """``--version``: looked up only when asked for."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"pgm {version()}")  # on stdout, as argparse's own version action
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pgm",
        description="Explicit-density generative models for images (VAEs, PixelCNN, PixelRNN) as "
        "Pyro programs: train, evaluate with one shared importance-sampled log-likelihood "
        "estimator (nats and bits/dim), sample, and compare.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="print pgm's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.commands.{name}").add_parser(sub)
    parser.commands = sub.choices  # each command's parser, to name it in a usage error
    return parser


def one_line(err: BaseException, joined: bool = True) -> str:
    """The error's message on one line. Pyro appends a table of trace shapes to errors raised
    inside a model; the sentence before it says what went wrong, the table is left out.
    ``joined=False`` keeps a message's newlines (pgm's own messages are one line: a newline
    there is part of a value, escaped later) and trims only its ends."""
    text = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    if joined:
        lines = []
        for line in str(text).splitlines():
            if line.strip().startswith("Trace Shapes:"):
                break
            if line.strip():
                lines.append(line.strip())
        text = " ".join(lines)
    text = str(text).strip() or type(err).__name__
    if len(text) > _LONGEST_MESSAGE:  # a value echoed whole (a 200 KB name in a config, say)
        cut = _LONGEST_MESSAGE // 2
        text = f"{text[:cut]}… ({len(text) - 2 * cut:,} characters left out) …{text[-cut:]}"
    return text


#: the longest error message shown whole; a longer one keeps its start and its end
_LONGEST_MESSAGE = 2000


_INTERRUPTED = {
    "train": "checkpoints written so far, if any, are intact (pgm train --out RUN --resume "
    "continues)",
    "suite": "finished runs are kept and an unfinished one resumes: run the same command again",
    "compare": "the report folder holds the previous report (or none); run the command again",
    "evaluate": "no evaluation file was written",
    "reproduce": "rows' checkpoints written so far are intact (the same command with --resume "
    "continues them)",
}


def _innermost(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """The parser of the command (and sub-command, ``pgm data fetch``) that ``args`` ran."""
    command = parser.commands.get(getattr(args, "command", None), parser)
    while True:
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        name = getattr(args, nested[0].dest, None) if nested else None
        if name not in (nested[0].choices if nested else {}):
            return command
        command = nested[0].choices[name]


def _check_action_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """An option of a command's action put before the action (``pgm data --mirror URL fetch
    NAME``) is refused in one line naming the option, its action and the order that works;
    argparse took the option's value for the action (``invalid choice: 'URL'``), or blamed
    ``pgm data fetch`` for an option it has (``unrecognized arguments: --force``)."""
    head = argv[: argv.index("--")] if "--" in argv else argv
    if {"-h", "--help", "--version"} & set(head):
        return  # help and the version come first, as argparse gives them
    command = next((t for t in argv if not t.startswith("-")), None)
    outer = parser.commands.get(command)
    nested = [
        a for a in getattr(outer, "_actions", []) if isinstance(a, argparse._SubParsersAction)
    ]
    if not nested:
        return
    for token in argv[argv.index(command) + 1 :]:
        if token == "--" or token in nested[0].choices:
            return  # the action comes first: its parser reads the options after it
        name = token.split("=", 1)[0]
        if not name.startswith("-") or name in outer._option_string_actions:
            continue
        for inner in nested[0].choices.values():
            option = inner._option_string_actions.get(name)
            if option is None:
                continue
            places = [a.metavar or a.dest.upper() for a in inner._actions if not a.option_strings]
            value = "" if option.nargs == 0 else f" {option.metavar or option.dest.upper()}"
            outer.error(
                f"{name}: expected after the action, as an option of `{inner.prog}` "
                f"({' '.join([inner.prog, *places, name])}{value}); found it before the action"
            )


class _LoggedWarnings(logging.StreamHandler):
    """The ``pgm`` logger's records on stderr as ``PROG: warning: ...`` lines."""

    def __init__(self, prog: str):
        super().__init__(sys.stderr)
        self.prog = prog

    def format(self, record: logging.LogRecord) -> str:
        return f"{self.prog}: {record.levelname.lower()}: {_warning_line(record.getMessage())}"


def _warning_line(message) -> str:
    """A warning's or error's message as one printable line, control characters escaped (a
    plug-in's metadata or a path may carry a newline or an escape code). pgm writes each of
    its messages on one line, so a newline in one is a value's (a path's) and is shown as
    ``\\n``; another library's message (raised outside pgm) has its lines joined."""
    if not isinstance(message, BaseException):
        message = Warning(str(message))  # a warning pgm gave, or its logger's record
    text = one_line(message, joined=not _raised_by_pgm(message))
    if text.isprintable():  # the usual case: no import of evaluation (and torch) for it
        return text
    from evaluation.tables import printable

    return printable(text)


def _raised_by_pgm(err: BaseException) -> bool:
    """Whether ``err`` was raised in pgm's own code (or is a message with no traceback, a
    warning pgm gave): the innermost frame of its traceback lies in one of pgm's packages."""
    tb = err.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    where = os.path.abspath(tb.tb_frame.f_code.co_filename)
    return any(where.startswith(root + os.sep) for root in _PGM_PACKAGES)


#: the folders of pgm's own packages (the code whose messages are one line by construction)
_PGM_PACKAGES = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), name)
    for name in ("pgm", "inference", "evaluation", "pgm_cli", "benchmarks")
)


def _parse(argv: list[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status where nothing is to be run (help, a usage
    error, ``pgm`` alone)."""
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help()  # `pgm` alone: what it can do, not a usage error
        return 0
    _ARGV[:] = sys.argv[1:] if argv is None else list(argv)
    try:
        _check_action_options(parser, _ARGV)
        args, extra = parser.parse_known_args(argv)
        if extra:  # named by the command's parser: `pgm sample: ... (see pgm sample --help)`
            _innermost(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
        args.prog = _innermost(parser, args).prog  # `pgm data fetch`, to name it in a message
        return args
    except SystemExit as stop:  # argparse: --help, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else 2


def main(argv: list[str] | None = None) -> int:
    """Run the ``pgm`` command; returns the exit status.

    Bad input (a config, an argument, a file, data, a model/guide pair breaking the contract:
    the project's own :class:`pgm.errors.PgmError`, and a path that does not exist or cannot be
    written) is answered by one line naming the argument, what was expected and what was
    found, exit status 2, no traceback; a run that fails while training (a non-finite loss) or
    another operating-system failure gets one line and status 1. Weights of an opened run that
    give a distribution invalid parameters on the real images are the run's fault (one line,
    status 2) when no plug-in was named. Any other exception is a bug and surfaces as one, with
    its traceback. ``PGM_DEBUG=1`` shows the traceback always. Ctrl-C and SIGTERM end it with
    one line saying what was kept, status 130 and 143.
    """
    termination = _Termination()
    try:
        return _main(argv, termination)
    finally:
        termination.restore(_AFTER_COMMAND)


#: SIGTERM's handler once :func:`main` has finished (None: the one it replaced)
_AFTER_COMMAND = None


def console() -> int:
    """The ``pgm`` console script (and ``python -m pgm_cli``): :func:`main`, with SIGTERM
    ignored once the command has finished. The interpreter's teardown takes up to a second with
    torch loaded, and a SIGTERM then had turned a finished command into a killed one (status
    143, no word); the command's own status stands."""
    global _AFTER_COMMAND
    _AFTER_COMMAND = signal.SIG_IGN
    return main()


def _main(argv: list[str] | None, termination: _Termination) -> int:
    try:  # Ctrl-C while the start-up imports run: one line, no traceback
        args = _parse(argv)
        if isinstance(args, int):
            return args
        from inference.denormals import flush_for_the_process
        from inference.trainer import NonFiniteLossError
        from pgm.errors import PgmError

        flush_for_the_process()  # before torch's worker threads start, so they inherit it
        from pgm.errors import PgmWarning
        from pgm.plugins import name_plugins
    except KeyboardInterrupt as stop:
        print(f"pgm: {_stopped(stop)} while starting; nothing was run or written", file=sys.stderr)
        return _stop_status(stop)

    bad_input = (
        PgmError,
        FileNotFoundError,
        FileExistsError,
        PermissionError,
        NotADirectoryError,
        IsADirectoryError,
    )
    shown = warnings.formatwarning  # pgm's own warnings are one line, like every other message
    warnings.formatwarning = lambda m, c, filename, *a, **k: (
        f"{args.prog}: warning: {_warning_line(m)}\n"
        if issubclass(c, PgmWarning)
        else shown(m, c, filename, *a, **k)
    )
    # the warnings pgm logs (a config key that does not apply, ...) in the same form
    logged = _LoggedWarnings(args.prog)
    logging.getLogger("pgm").addHandler(logged)
    try:
        # --plugin: named now, imported at the first lookup or after a run's sha256 check
        args.plugin = name_plugins(getattr(args, "plugin", None), "--plugin")
        _check_runs_before_import(args)
        code = args.func(args)
        if termination.signalled:  # the signal's exception was swallowed on its way here
            raise Terminated
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return code
    except BrokenPipeError:
        # the reader left (`pgm list --json | head`): not an error; stdout is pointed at devnull
        # so that Python's flush at exit does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as stop:
        kept = _INTERRUPTED.get(args.command, "nothing was written")
        print(f"{args.prog}: {_stopped(stop)}; {kept}", file=sys.stderr)
        return _stop_status(stop)
    except (*bad_input, NonFiniteLossError, OSError, MemoryError) as err:
        if os.environ.get("PGM_DEBUG"):
            raise
        print(f"{args.prog}: error: {_warning_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, bad_input) else 1
    except ValueError as err:
        runs = _opened_runs(args)
        if not runs or not _blame_the_runs(err, args):
            raise
        # the loaded weights passed inference.weights_probe on a blank image, but give a
        # distribution invalid parameters on the real images: the runs', not pgm's, fault
        which = runs[0] if len(runs) == 1 else f"one of {', '.join(runs)}"
        print(
            f"{args.prog}: error: {which}: expected weights that give valid "
            f"distributions on these images; found {one_line(err)} (an edited file, or a run "
            "that diverged; PGM_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        return 2
    finally:
        warnings.formatwarning = shown
        logging.getLogger("pgm").removeHandler(logged)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or ``kill``'s stop) while a command runs. It is a
    :class:`KeyboardInterrupt`, so everything that cleans up after Ctrl-C (an unfinished first
    checkpoint, a report being written) does so after SIGTERM too, and the command says in one
    line what was kept; Python's default had ended the process silently."""


class _Termination:
    """SIGTERM raised as :class:`Terminated` while the command runs. Python drops an exception
    raised inside a finaliser (a ``__del__``, a weak reference's callback: "Exception ignored
    in ...") and carries on, so a signal landing there is raised again at once, and the
    command's normal end checks whether one came (then status 143, not 0). Nothing is installed
    off the main thread, where Python allows no handler."""

    def __init__(self) -> None:
        self.signalled = False
        self._again = False  # a swallowed Terminated is to be raised again
        self._hook = sys.unraisablehook
        try:
            self._replaced = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread (an embedding application's worker)
            self._installed = False
            return
        self._installed = True
        sys.unraisablehook = self._unraisable

    def _raise(self, signum, frame):
        if self.signalled and not self._again:
            return  # a second SIGTERM of a burst: the first one's exception is on its way
        self.signalled, self._again = True, False
        raise Terminated

    def _unraisable(self, info) -> None:
        if isinstance(info.exc_value, Terminated):
            # swallowed by a finaliser: raised again from another thread a moment later, once
            # the finaliser has returned (raised from here, it would be dropped here too)
            self._again = True
            threading.Timer(0.05, _thread.interrupt_main, (signal.SIGTERM,)).start()
            return
        self._hook(info)

    def restore(self, then=None) -> None:
        """The hook it replaced back, and SIGTERM's handler: ``then``, else the one it
        replaced (a handler installed outside Python, which cannot be put back from here,
        becomes the default)."""
        if self._installed:
            handler = self._replaced if then is None else then
            signal.signal(signal.SIGTERM, signal.SIG_DFL if handler is None else handler)
            sys.unraisablehook = self._hook


def _stopped(stop: KeyboardInterrupt) -> str:
    return "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"


def _stop_status(stop: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process the signal ended."""
    return 128 + (signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)


def _blame_the_runs(err: ValueError, args) -> bool:
    """Whether a distribution refusing its parameters is the opened runs' weights' doing: no
    plug-in was named (a plug-in's own bug surfaces as one), the command trains nothing
    (training reports a divergence itself), and ``PGM_DEBUG`` is not set."""
    from inference.nan_diagnosis import invalid_parameters

    return (
        invalid_parameters(err)
        and not getattr(args, "plugin", None)
        and args.command not in ("train", "suite", "reproduce")
        and not os.environ.get("PGM_DEBUG")
    )


def _opened_runs(args) -> list[str]:
    """The run folders this command will open (whose recorded plug-ins it must honour)."""
    runs = [getattr(args, "run", None), getattr(args, "from_run", None)]
    runs += list(getattr(args, "runs", None) or []) + list(getattr(args, "add", None) or [])
    runs += [pair.partition("=")[2].strip() for pair in getattr(args, "label", None) or []]
    if getattr(args, "resume", False) and args.command == "train":
        runs.append(getattr(args, "out", None))
    return [r for r in runs if r]


def _check_runs_before_import(args) -> None:
    """Before anything can import a ``--plugin`` (the first registry lookup does), each run the
    command opens has its recorded plug-ins compared with what was named, by sha256, reading
    only its config.json (:func:`inference.run_folder.check_recorded_plugins`)."""
    from inference.run_folder import check_recorded_plugins

    for run in _opened_runs(args):
        check_recorded_plugins(run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
