"""Base guest image: built once per recipe with mmdebstrap, cached by content digest, booted directly.

Entry points: :class:`ImageRecipe`, :func:`ensure_image`, :func:`kernel_cmdline`.
"""

from ffulab.image.boot import kernel_cmdline
from ffulab.image.build import ImageArtifacts, ensure_image
from ffulab.image.recipe import ImageRecipe

__all__ = ["ImageArtifacts", "ImageRecipe", "ensure_image", "kernel_cmdline"]
