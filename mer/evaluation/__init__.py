"""Leave-one-subject-out evaluation as in MEGC2019.

- :mod:`mer.evaluation.folds`: LOSO folds over global subject keys (``"casme2/sub01"``).
- :mod:`mer.evaluation.metrics`: UF1, UAR, accuracy on pooled predictions; subject bootstrap CIs.
- :mod:`mer.evaluation.results`: trained entries' predictions read and checked, ``metrics.json``,
  ``predictions.parquet``.
- :mod:`mer.evaluation.paired`: seed means and paired comparisons over subjects.
- :mod:`mer.evaluation.plots`: confusion and per-subject figures, DVC plot data.

Importing this package imports none of them (matplotlib stays unloaded until plots are asked for).
"""
