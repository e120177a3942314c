"""Developer tools run from the checkout (`python -m tools.layers`); not part of the package."""
