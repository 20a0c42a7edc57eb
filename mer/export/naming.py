"""How the MEGC2019 composite file and the public codebases spell subjects and clips.

The composite ground truth (``combined_3class_gt.csv``) writes CASME II clips without their
subject prefix (``sub01,EP02_01f``), SMIC subjects with two digits (``s01``, ``s01_ne_01``; the
disk has ``s1``) and SAMM subjects unpadded (``6``; the disk has ``006``). HTNet's
``combined_3_class2_for_optical_flow.csv`` keeps the composite's clip spelling but writes SAMM
subjects padded (``006``). Corpora outside the composite keep mer's own spelling.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MegcName:
    """One clip named as the MEGC2019 composite file and HTNet name it.

    Attributes:
        dataset: ``casme2``, ``smic``, ``samm`` (or another corpus, spelled as in mer).
        subject: the composite file's subject (``sub01``, ``s01``, ``6``).
        clip: the composite file's clip (``EP02_01f``, ``s01_ne_01``, ``006_1_2``).
        sub: HTNet's ``sub`` column, the subject as its folders name it (``sub01``, ``s01``,
            ``006``); also the leave-one-subject-out folder name.
        folder: the clip's folder name on the corpus's disk (``EP02_01f``, ``s1_ne_01``,
            ``006_1_2``).
    """

    dataset: str
    subject: str
    clip: str
    sub: str
    folder: str

    @property
    def stem(self) -> str:
        """``<sub>_<clip>``, the file stem HTNet and STSTNet give a clip's flow image."""
        return f"{self.sub}_{self.clip}"

    @property
    def image_stem(self) -> str:
        """``<sub>_<folder>``, HTNet's ``imagename`` stem for a clip's apex face."""
        return f"{self.sub}_{self.folder}"


def megc_name(dataset: str, subject: str, clip: str) -> MegcName:
    """Name one clip of mer's tables (disk spelling) as the composite file does.

    Args:
        dataset: mer's dataset name.
        subject: mer's subject (the corpus's folder name: ``sub01``, ``s1``, ``006``).
        clip: mer's clip id (``sub01_EP02_01f``, ``s1_ne_01``, ``006_1_2``).
    """
    if dataset == "casme2":
        folder = clip.removeprefix(f"{subject}_")
        return MegcName(dataset, subject, folder, subject, folder)
    if dataset == "smic" and subject[1:].isdigit() and clip.startswith(f"{subject}_"):
        padded = f"s{int(subject[1:]):02d}"
        return MegcName(dataset, padded, padded + clip[len(subject):], padded, clip)
    if dataset == "samm" and subject.isdigit():
        return MegcName(dataset, str(int(subject)), clip, subject, clip)
    return MegcName(dataset, subject, clip, subject, clip)
