"""``rolehop doctor``: checks of a setup, each with a verdict and, when not healthy, a fix."""
