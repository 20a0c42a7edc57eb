"""mer.config: a corpus without a sheet names its root as its annotations (dvc.yaml tracks both);
an entry that starts from the pretrain checkpoint matches it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mer.config import CorpusConfig, DataConfig, Params, load_params

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("format", ["smic", "ckplus"])
def test_a_tree_format_takes_its_root_or_nothing_as_annotations(format: str) -> None:
    assert CorpusConfig(format=format, root=Path("HS"), annotations=Path("HS")).annotations == \
        Path("HS")
    assert CorpusConfig(format=format, root=Path("HS")).annotations is None
    with pytest.raises(ValidationError, match=f"{format} has no coding sheet.*must be its root HS"):
        CorpusConfig(format=format, root=Path("HS"), annotations=Path("sheet.xlsx"))


def test_every_corpus_of_the_project_names_root_and_annotations() -> None:
    data: DataConfig = load_params(PROJECT_ROOT / "params.yaml").data
    assert all(corpus.annotations is not None for corpus in data.corpora + data.macro_corpora)


def test_an_entry_starting_from_the_checkpoint_has_its_hyper_parameters() -> None:
    params = load_params(PROJECT_ROOT / "params.yaml").model_dump(by_alias=True)
    params["pretrain"]["hparams"] = {"pool_grid": 2}
    with pytest.raises(ValidationError, match="miacnet: pretrain.kind checkpoint starts from"):
        Params.model_validate(params)
