"""``python -m baselines.adarnn --task ...``: one AdaRNN run with the default settings."""
import sys

from baselines.adarnn.method import main

sys.exit(main())
