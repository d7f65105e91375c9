"""The command line: the only package that imports click. `sdi.cli.main:main` is the `sdi` command."""
