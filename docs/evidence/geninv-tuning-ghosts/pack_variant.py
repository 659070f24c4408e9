"""Builds a human pack with GenInv's ghost clearing switched off (VARIANT=noghost) or on, at commit f5a34db of
branch s3gen, where ``core.geninv.greedy.clear_ghosts`` and ``core.geninv.api.PAIR_PIXELS`` existed (both removed
since). Usage: see README.md beside this file.
"""

import os
import sys

import core.geninv.api as api
import core.geninv.greedy as greedy
from core.cli import main

if os.environ.get("VARIANT") == "noghost":
    greedy.clear_ghosts = lambda query, aligned, kept, *rest: kept  # type: ignore[attr-defined]
api.PAIR_PIXELS = float(os.environ.get("LAMBDA", api.PAIR_PIXELS))  # type: ignore[attr-defined]
sys.exit(main(sys.argv[1:]))
