"""The report's pretraining section: what `mer pretrain` measured (reports/pretrain/metrics.json).

Two numbers say whether MA2MI learnt anything: the reconstruction error on held-out macro subjects
against the copy baseline (below 1: the action code describes motion; goal at most 0.8), and the
linear probe on the micro clips (frozen encoder features -> logistic regression, LOSO) of the
MA2MI encoders against the random initialisation they started from, with the paired interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mer.report.html import esc, table


def pretraining_section(metrics: Mapping[str, Any]) -> str:
    """The HTML section for the pretrain stage's metrics (see the module docstring)."""
    held = metrics["reconstruction"]["held_out"]
    probe = metrics["probe"]
    rows = [[name, f"{probe['uf1'][key]:.3f}", f"{probe['uar'][key]:.3f}"]
            for name, key in (("MA2MI encoders", "ma2mi"), ("random init", "random_init"))]
    uf1 = probe["difference"]["uf1"]
    low, high = uf1["ci95"]
    return ("<h2 id=\"pretraining\">Pretraining (MA2MI)</h2>"
            f"<p>Reconstruction on {esc(held['subjects'])} held-out macro subjects "
            f"({esc(held['clips'])} clips): error / copy baseline <b>{held['ratio']:.3f}</b> "
            f"(L1 {held['l1']:.4f} against {held['copy_l1']:.4f}; goal at most 0.8).</p>"
            f"<p>Linear probe, frozen encoder features, LOSO over {esc(probe['subjects'])} "
            f"subjects ({esc(probe['clips'])} clips):</p>"
            + table(["encoders", "UF1", "UAR"], rows, numeric=(1, 2))
            + f"<p>MA2MI minus random init, UF1 {uf1['diff']:+.3f} "
            f"(95% paired bootstrap interval [{low:+.3f}, {high:+.3f}]).</p>")
