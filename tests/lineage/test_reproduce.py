"""Re-running the recorded stage from a clean checkout gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mer.lineage import reproduce


@pytest.mark.slow
@pytest.mark.parametrize("single_stage", [True, False])
def test_rerun_from_clean_checkout_is_byte_identical(built_project: Path, tmp_path: Path,
                                                     single_stage: bool) -> None:
    clone = tmp_path / "clone"
    result = reproduce("reports/metrics.json", clone, built_project, single_stage=single_stage)
    assert result.stage == "evaluate"
    assert (clone / "reports" / "metrics.json").read_bytes() == \
        (built_project / "reports" / "metrics.json").read_bytes()
    assert result.identical and result.reproduced_md5 == result.recorded_md5
    assert "Running stage 'evaluate'" in result.log
