"""The ``pgm`` command line, one module per command (``pgm_cli/commands/``).

Layering: this package sits above ``evaluation``, ``inference`` and ``pgm`` and is imported by
none of them. ``main.py`` builds the top-level parser from each command module's
``add_parser(subparsers)`` and dispatches to its ``run(args)``; options several commands share
are declared once in ``options.py``; ``output.py`` prints a result for a person, or as JSON
with ``--json``. Heavy libraries (torch, Pyro, ArviZ) are imported inside ``run`` only, so
``pgm --help`` is fast.
"""
