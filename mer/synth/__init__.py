"""The embedded default corpus: synthetic micro- and macro-expression clips in native layouts.

Made offline and deterministically from two public-domain photographs that ship inside installed
packages (``skimage.data.astronaut()``, matplotlib's ``grace_hopper.jpg``). Subjects (see
:mod:`mer.synth.subjects`): each identity is one of the two photos, as is or mirrored, with its
face reshaped by a landmark-driven thin-plate-spline warp (eye distance and size, brow height,
nose length, mouth width and height, jaw width, face length, slight yaw; sign patterns from a
Hadamard code so identities of one photo differ in at least 4 of 9 factors), its own roll, scale
and placement, skin tone/gamma/saturation, brow darkness, beard shadow, skin detail and a
procedural background. The default makes 24 identities: 16 micro subjects (CASME II 6, SAMM 5,
SMIC 5) and 8 macro (CK+) subjects, all distinct (``micro/subjects.csv``, ``macro/subjects.csv``
map subjects to identities).

Motion: FACS action units as Gaussian-RBF displacement fields on the 68 landmarks
(:mod:`mer.synth.actions`), combined and timed as in the real CASME II and SAMM sheets
(:mod:`mer.synth.statistics`), plus head jitter/drift, illumination drift and sensor noise
(:mod:`mer.synth.render`). Writers of the native layouts: :mod:`mer.synth.layouts`.

Importing this package has no side effects.
"""

from mer.synth.generate import SynthConfig, SynthSummary, generate

__all__ = ["SynthConfig", "SynthSummary", "generate"]
