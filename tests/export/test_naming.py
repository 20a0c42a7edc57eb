"""Clip names as the MEGC2019 composite file and HTNet spell them."""

from __future__ import annotations

import pytest

from mer.export import megc_name


@pytest.mark.parametrize(("dataset", "subject", "clip", "expected"), [
    ("casme2", "sub01", "sub01_EP02_01f", ("sub01", "EP02_01f", "sub01", "sub01_EP02_01f")),
    ("smic", "s1", "s1_ne_01", ("s01", "s01_ne_01", "s01", "s01_s1_ne_01")),
    ("smic", "s11", "s11_po_03", ("s11", "s11_po_03", "s11", "s11_s11_po_03")),
    ("samm", "006", "006_1_2", ("6", "006_1_2", "006", "006_006_1_2")),
    ("casme3", "spNO.1", "spNO.1_a_1", ("spNO.1", "spNO.1_a_1", "spNO.1", "spNO.1_spNO.1_a_1")),
])
def test_megc_name(dataset: str, subject: str, clip: str,
                   expected: tuple[str, str, str, str]) -> None:
    name = megc_name(dataset, subject, clip)
    assert (name.subject, name.clip, name.sub, name.image_stem) == expected
    assert name.stem == f"{expected[2]}_{expected[1]}"
