"""The export formats: one writer per layout a public codebase reads (see docs/export.md).

Every writer gets the clips one at a time (:meth:`Exporter.add`), writes what it can at once and
the rest in :meth:`Exporter.finish`, which also writes ``combined_3class_gt.csv``: the MEGC2019
composite ground truth naming every exported clip (no header; ``dataset,subject,clip,label``,
label 0 negative, 1 positive, 2 surprise; CRLF line ends as the official file).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from mer.data.atomic import atomic_path, write_text
from mer.data.errors import DataError
from mer.data.schema import LABELS
from mer.export.images import flow_image, write_cv2_png, write_jpeg, write_png
from mer.export.naming import MegcName, megc_name

#: The composite ground-truth file written beside every export.
COMPOSITE_CSV = "combined_3class_gt.csv"
#: HTNet's clip list.
HTNET_CSV = "combined_3_class2_for_optical_flow.csv"
HTNET_COLUMNS = ("dataset", "sub", "filename_o", "label", "apex", "imagename", "sub_filename")


@dataclass(frozen=True)
class ExportClip:
    """One labelled clip's preprocessed inputs, as the faces and flow stages wrote them.

    Attributes:
        dataset, subject, clip: mer's names (disk spelling, see :mod:`mer.export.naming`).
        label: one of ``mer.data.schema.LABELS``.
        onset_frame, apex_frame: the corpus's frame numbers of the flow's two frames.
        u, v: (H, W) float32 onset -> apex flow, px (``apex(p + (u, v)) ~ onset(p)``).
        strain: (H, W) float32 optical strain magnitude.
        frames: (T, H, W, 3) uint8 RGB aligned face frames, or None where the format needs none.
        frame_numbers: (T,) corpus frame numbers of ``frames``, or None with them.
    """

    dataset: str
    subject: str
    clip: str
    label: str
    onset_frame: int
    apex_frame: int
    u: np.ndarray
    v: np.ndarray
    strain: np.ndarray
    frames: np.ndarray | None = None
    frame_numbers: np.ndarray | None = None

    @property
    def name(self) -> MegcName:
        """The clip as the composite file names it."""
        return megc_name(self.dataset, self.subject, self.clip)

    @property
    def code(self) -> int:
        """The MEGC2019 class code (0 negative, 1 positive, 2 surprise)."""
        return LABELS.index(self.label)

    def aligned(self) -> tuple[np.ndarray, list[int]]:
        """The aligned frames and their corpus frame numbers.

        Raises:
            DataError: they were not loaded.
        """
        if self.frames is None or self.frame_numbers is None:
            raise DataError(self.where, "aligned frames were not loaded for this format")
        return self.frames, [int(n) for n in self.frame_numbers]

    def frame(self, number: int) -> np.ndarray:
        """The aligned (H, W, 3) frame with the corpus frame number ``number``."""
        frames, numbers = self.aligned()
        if number not in numbers:
            raise DataError(self.where, f"frame {number} is not among the aligned frames")
        return frames[numbers.index(number)]

    @property
    def where(self) -> str:
        """``dataset/subject/clip`` for messages."""
        return f"{self.dataset}/{self.subject}/{self.clip}"


@dataclass
class Exporter:
    """Base of the format writers: collects the composite rows and writes the composite file."""

    out: Path
    needs_frames: ClassVar[bool] = False
    names: list[tuple[MegcName, int]] = field(default_factory=list)

    def add(self, clip: ExportClip) -> None:
        """Write one clip's files (and remember it for :meth:`finish`)."""
        self.names.append((clip.name, clip.code))
        self.write_clip(clip)

    def write_clip(self, clip: ExportClip) -> None:
        """Write the files of one clip; formats override this."""

    def finish(self) -> None:
        """Write what needs every clip, then the composite ground-truth file."""
        write_text(self.out / COMPOSITE_CSV, composite_csv(self.names))


def composite_csv(names: list[tuple[MegcName, int]]) -> str:
    """The MEGC2019 composite file's text: ``dataset,subject,clip,label`` rows, CRLF, no header."""
    return "".join(f"{n.dataset},{n.subject},{n.clip},{code}\r\n" for n, code in names)


@dataclass
class FacesExporter(Exporter):
    """Aligned face crops: ``<dataset>/<subject>/<clip>/img<frame>.png`` (RGB, mer's crop size)."""

    needs_frames: ClassVar[bool] = True

    def write_clip(self, clip: ExportClip) -> None:
        folder = self.out / clip.dataset / clip.subject / clip.clip
        for pixels, number in zip(*clip.aligned(), strict=True):
            write_png(folder / f"img{number}.png", pixels)


@dataclass
class NpyExporter(Exporter):
    """Flow arrays: ``<dataset>/<subject>/<clip>/{u,v,strain}.npy``, (H, W) float32."""

    def write_clip(self, clip: ExportClip) -> None:
        folder = self.out / clip.dataset / clip.subject / clip.clip
        for key, array in (("u", clip.u), ("v", clip.v), ("strain", clip.strain)):
            with atomic_path(folder / f"{key}.npy") as tmp, tmp.open("wb") as handle:
                np.save(handle, np.asarray(array, dtype=np.float32), allow_pickle=False)


@dataclass
class LosoExporter(Exporter):
    """28x28 (u, v, strain) images arranged for leave-one-subject-out, as STSTNet reads them.

    ``norm_u_v_os/<sub>/u_test/<code>/<file>`` holds the subject's own clips and
    ``norm_u_v_os/<sub>/u_train/<code>/<file>`` every other subject's, one folder per subject.
    """

    images: list[tuple[MegcName, int, np.ndarray]] = field(default_factory=list)
    apexes: list[int] = field(default_factory=list)

    def write_clip(self, clip: ExportClip) -> None:
        self.images.append((clip.name, clip.code, flow_image(clip.u, clip.v, clip.strain)))
        self.apexes.append(clip.apex_frame)

    def file_name(self, name: MegcName) -> str:
        """The file name of a clip's flow image."""
        return f"{name.stem}.png"

    def finish(self) -> None:
        root = self.out / "norm_u_v_os"
        subjects = sorted({name.sub for name, _, _ in self.images})
        for subject in subjects:
            for name, code, pixels in self.images:
                split = "u_test" if name.sub == subject else "u_train"
                write_cv2_png(root / subject / split / str(code) / self.file_name(name), pixels)
        super().finish()


@dataclass
class HTNetExporter(LosoExporter):
    """HTNet's inputs: its clip list, apex faces, whole flow images and the LOSO tree.

    ``combined_3_class2_for_optical_flow.csv``, ``datasets/combined_datasets_whole/<imagename>``
    (the aligned apex face, JPEG), ``datasets/STSNet_whole_norm_u_v_os/<sub>_<clip> .png`` (the
    28x28 (u, v, strain) image; HTNet's names carry that space before ``.png``) and
    ``norm_u_v_os/`` as :class:`LosoExporter` with the same file names.
    """

    needs_frames: ClassVar[bool] = True

    def file_name(self, name: MegcName) -> str:
        return f"{name.stem} .png"

    def write_clip(self, clip: ExportClip) -> None:
        super().write_clip(clip)
        name, _, pixels = self.images[-1]
        whole = self.out / "datasets"
        write_cv2_png(whole / "STSNet_whole_norm_u_v_os" / self.file_name(name), pixels)
        write_jpeg(whole / "combined_datasets_whole" / f"{name.image_stem}.jpg",
                   clip.frame(clip.apex_frame))

    def finish(self) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(HTNET_COLUMNS)
        for (name, code, _), apex in zip(self.images, self.apexes, strict=True):
            writer.writerow([name.dataset, name.sub, name.clip, code, apex,
                             f"{name.image_stem}.jpg", ""])
        write_text(self.out / HTNET_CSV, buffer.getvalue())
        super().finish()


#: ``--format`` name -> its writer.
FORMATS: dict[str, type[Exporter]] = {
    "faces": FacesExporter,
    "npy": NpyExporter,
    "ststnet": LosoExporter,
    "htnet": HTNetExporter,
}
