"""``python -m baselines.transgtr --task ...``: one TransGTR run from the command line."""
import sys

from baselines.transgtr.baseline import main

sys.exit(main())
