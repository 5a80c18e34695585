"""``python -m baselines.dastnet --task ...``: one DASTNet run from the command line."""
import sys

from baselines.dastnet.baseline import main

sys.exit(main())
