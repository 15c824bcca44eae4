"""Phase ``image``: the guest image for the lab's services, built once and cached by its recipe.

The image is built on this client (mmdebstrap needs root here, not on the virthost) and, for an ssh
virthost, copied once into the remote's image directory; the state records where the virthost has it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffulab.image.build import ensure_image
from ffulab.image.recipe import ImageRecipe
from ffulab.provision.labvirt import lab_virthost

if TYPE_CHECKING:
    from ffulab.config.resolve import Resolved
    from ffulab.context import Context


def lab_recipe(resolved: Resolved) -> ImageRecipe:
    """The release config's image plus the Debian packages of every service in the lab."""
    config = resolved.config
    packages = set(config.image.packages)
    for service in resolved.catalog.of_lab(config):
        packages.update(service.packages)
    data = config.image.model_dump(exclude_none=True)
    data["packages"] = sorted(packages)
    return ImageRecipe.from_config(data, source=resolved.files.get("release", "image"))


def run(ctx: Context) -> None:
    artifacts = ensure_image(lab_recipe(ctx.resolved), progress=ctx.progress)
    image_dir = artifacts.disk.parent
    # the virthost's libvirt boots the lab from there: the same directory, or its copy on an ssh virthost
    there = (
        lab_virthost(ctx).stage_image(image_dir, ctx.progress) if ctx.state.data.virthost else str(image_dir)
    )
    ctx.state.update(
        image={
            "digest": artifacts.digest,
            "disk": f"{there}/{artifacts.disk.name}",
            "kernel": f"{there}/{artifacts.kernel.name}",
            "initrd": f"{there}/{artifacts.initrd.name}",
            "kernel_version": artifacts.kernel_version,
        },
    )
    how = f"built in {artifacts.seconds:.0f}s" if artifacts.built else "cached"
    ctx.progress(f"image {artifacts.digest[:12]} {how}")
