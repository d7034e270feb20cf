"""``python -m guiagent …`` is the `guiagent` command."""

import sys

from guiagent.cli import main

sys.exit(main())
