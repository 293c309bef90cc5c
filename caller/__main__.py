"""``python -m caller LINK --wav in.wav``: the same as ``./livebot call``."""

import sys

from caller.cli import main

sys.exit(main())
