"""A pytest plugin for mutation runs (`-p tests.mutation.hypothesis_profile`, set in pyproject.toml).

Hypothesis draws the same examples in every run and keeps no example database, so whether a mutant is
killed never depends on luck or on examples saved while another mutant was being tested.
"""

from hypothesis import settings

settings.register_profile("mutation", derandomize=True, database=None)
settings.load_profile("mutation")
