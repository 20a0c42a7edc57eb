from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mer.data.schema import LABELS
from mer.evaluation.metrics import confusion, per_subject_scores
from mer.evaluation.plots import (
    plot_confusion,
    plot_per_subject,
    write_figures,
    write_plot_data,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_confusion_returns_a_figure_with_the_counts():
    matrix = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 4]])
    fig = plot_confusion(matrix, LABELS, "toy")
    (ax, _colorbar) = fig.axes
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == "5\n(83%)" and texts[-1] == "4\n(100%)"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(LABELS)
    assert ax.get_title() == "toy"
    with pytest.raises(ValueError, match="does not match 3 labels"):
        plot_confusion(np.zeros((2, 2)), LABELS, "bad")


def test_plot_per_subject_one_bar_pair_per_subject(predictions):
    scores = per_subject_scores(predictions[predictions["model"] == "cnn"])
    fig = plot_per_subject(scores, "toy")
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * len(scores)
    assert [t.get_text() for t in ax.get_xticklabels()] == scores["subject"].tolist()


def test_figures_are_written_deterministically_without_pyplot(predictions, tmp_path):
    a = write_figures(predictions, tmp_path / "a")
    b = write_figures(predictions.sample(frac=1.0, random_state=1), tmp_path / "b")
    assert [p.name for p in a] == ["confusion_cnn.png", "per_subject_cnn.png",
                                   "confusion_svm.png", "per_subject_svm.png"]
    for pa_, pb in zip(a, b, strict=True):
        data = pa_.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert data == pb.read_bytes()
        assert b"Software" not in data and b"matplotlib" not in data
    assert not list((tmp_path / "a").glob(".*.tmp"))


def test_plot_data_csvs(predictions, tmp_path):
    written = write_plot_data(predictions, tmp_path)
    assert sorted(p.name for p in written) == ["confusion_cnn.csv", "confusion_svm.csv",
                                               "per_subject_cnn.csv", "per_subject_svm.csv"]
    pairs = pd.read_csv(tmp_path / "confusion_cnn.csv")
    cnn = predictions[predictions["model"] == "cnn"].sort_values(["dataset", "subject", "clip"])
    assert list(pairs.columns) == ["actual", "predicted"]
    assert len(pairs) == len(cnn)
    assert pairs["actual"].tolist() == [LABELS[i] for i in cnn["y_true"]]
    counts = pd.crosstab(pairs["actual"], pairs["predicted"]).reindex(
        index=LABELS, columns=LABELS, fill_value=0).to_numpy()
    assert counts.tolist() == confusion(cnn["y_true"], cnn["y_pred"], 3).tolist()
    per_subject = pd.read_csv(tmp_path / "per_subject_cnn.csv")
    assert list(per_subject.columns) == ["subject", "n", "accuracy", "uf1", "uar"]
    assert per_subject["n"].sum() == len(cnn)
    again = write_plot_data(predictions.iloc[::-1], tmp_path / "again")
    for first, second in zip(sorted(written), sorted(again), strict=True):
        assert first.read_bytes() == second.read_bytes()


def test_unsafe_model_names_are_refused(predictions, tmp_path):
    bad = predictions.assign(model="../escape")
    with pytest.raises(ValueError, match="cannot be a file name part"):
        write_plot_data(bad, tmp_path)


def test_no_pyplot_and_no_matplotlib_on_package_import(tmp_path):
    code = (
        "import sys, numpy as np\n"
        "import mer.evaluation\n"
        "assert 'matplotlib' not in sys.modules, 'import mer.evaluation loaded matplotlib'\n"
        "from mer.evaluation.plots import plot_confusion\n"
        "fig = plot_confusion(np.eye(3, dtype=int), ['a', 'b', 'c'], 't')\n"
        f"fig.savefig({str(tmp_path / 'x.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.png").read_bytes().startswith(PNG_MAGIC)
