"""``python -m griddiag`` is the ``griddiag`` command."""

import sys

from griddiag.cli import main

sys.exit(main())
