"""``python -m pgm_cli``: the ``pgm`` command."""

import sys

from pgm_cli.main import main

sys.exit(main())
