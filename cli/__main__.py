"""`python -m cli` runs the `pokegan` command (the tests start real processes this way)."""

import sys

from cli.main import main

sys.exit(main())
