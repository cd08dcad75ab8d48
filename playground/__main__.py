"""`python -m playground` does what the `playground` command does."""

import sys

from .app import main

sys.exit(main())
