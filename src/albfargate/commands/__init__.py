"""One module per CLI command group. Each module defines ``register(subparsers)`` which adds its
sub-commands and sets ``func`` (``(argparse.Namespace) -> int``) on each. ``cli.py`` discovers every
module of this package, so adding a command never edits a shared file."""
