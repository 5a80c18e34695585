"""``python -m baselines.stgp --task ...``: one STGP run from the command line."""
import sys

from baselines.stgp.baseline import main

sys.exit(main())
