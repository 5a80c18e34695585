"""``python -m baselines.gpd --task ...``: one GPD run from the command line."""
import sys

from baselines.gpd.method import main

sys.exit(main())
