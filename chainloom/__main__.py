"""`python -m chainloom` is the `chainloom` command."""

import sys

from chainloom.cli import main

sys.exit(main())
