"""``python -m envs.simphone [--port N] [--size WxH] [--state FILE]``."""

import sys

from envs.simphone.cli import main

raise SystemExit(main(sys.argv[1:]))
