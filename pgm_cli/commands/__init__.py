"""One module per ``pgm`` command, each with ``add_parser(subparsers)`` and ``run(args)``.

``COMMANDS`` is the order ``pgm --help`` lists them in; adding a command is a new module here
and its name in that list.
"""

COMMANDS = (
    "train",
    "evaluate",
    "bdmc",
    "sample",
    "complete",
    "compare",
    "list",
    "suite",
    "reproduce",
    "data",
)
