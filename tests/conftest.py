"""Property tests draw their examples from a fixed seed, so every machine runs the same cases.

Set HYPOTHESIS_PROFILE=explore to search with fresh random examples instead.
"""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
