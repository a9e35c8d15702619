"""The ``pgm`` command line, one module per command (``pgm_cli/commands/``).

Layering: this package sits above ``evaluation``, ``inference`` and ``pgm`` and is imported by
none of them. ``main.py`` builds the top-level parser from each command module's
``add_parser(subparsers)`` and dispatches to its ``run(args)``; options several commands share
are declared once in ``options.py``; ``output.py`` prints a result for a person, or as JSON
with ``--json``. Heavy libraries (torch, Pyro, ArviZ) are imported inside ``run`` only, so
``pgm --help`` is fast.
"""

import os as _os
import sys as _sys

# ``python -m pgm_cli`` (and ``torchrun -m pgm_cli.torchrun``) puts the current folder first on
# sys.path, so a ``scipy.py`` or ``argparse.py`` in a shared run folder one cds into would be
# imported by the command: code nobody named. The folder is replaced by the one that holds this
# package (the same folder in a checkout's root, site-packages when installed), before any
# other import of the command. ``python -P`` (safe_path) already leaves it out.
if (
    _sys.argv[:1] == ["-m"]
    and not _sys.flags.safe_path
    and _sys.path
    and _sys.path[0] in ("", _os.getcwd())
):
    _sys.path[0] = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
