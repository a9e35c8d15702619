"""``python -m pgm_cli``: the ``pgm`` command."""

import sys

from pgm_cli.main import console

sys.exit(console())
