"""``python -m mediakit.cli``: the same as the ``mediakit`` command."""

import sys

from mediakit.cli import main

sys.exit(main())
