"""Phase ``image``: the guest image for the lab's services, built once and cached by its recipe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffulab.image.build import ensure_image
from ffulab.image.recipe import ImageRecipe

if TYPE_CHECKING:
    from ffulab.context import Context


def lab_recipe(ctx: Context) -> ImageRecipe:
    """The release config's image plus the Debian packages of every service in the lab."""
    config = ctx.resolved.config
    packages = set(config.image.packages)
    for service in ctx.resolved.catalog.of_lab(config):
        packages.update(service.packages)
    data = config.image.model_dump(exclude_none=True)
    data["packages"] = sorted(packages)
    return ImageRecipe.from_config(data, source=ctx.resolved.files.get("release", "image"))


def run(ctx: Context) -> None:
    artifacts = ensure_image(lab_recipe(ctx), progress=ctx.progress)
    ctx.state.update(
        image={
            "digest": artifacts.digest,
            "disk": str(artifacts.disk),
            "kernel": str(artifacts.kernel),
            "initrd": str(artifacts.initrd),
            "kernel_version": artifacts.kernel_version,
        },
    )
    how = f"built in {artifacts.seconds:.0f}s" if artifacts.built else "cached"
    ctx.progress(f"image {artifacts.digest[:12]} {how}")
