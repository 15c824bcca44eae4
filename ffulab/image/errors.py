"""The error of the image phase (kept here until ``ffulab/errors.py`` gathers it)."""

from ffulab.errors import FfulabError


class ImageError(FfulabError):
    """The base image could not be built or booted; the message names the step."""

    def __init__(self, step: str, problem: str):
        self.step, self.problem = step, problem
        super().__init__(f"image {step}: {problem}")
