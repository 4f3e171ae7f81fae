"""``python -m sld.cli``: the same as the ``sld`` command."""

import sys

from sld.cli import main

sys.exit(main())
