"""``python -m cmpl`` (and ``torchrun -m cmpl``) runs the command line."""

import sys

from cmpl.cli import main

sys.exit(main())
