"""``package-registry build``: a registry's answers written out ahead of time.

``command.py`` parses the subcommand and loads the packages once; each output format is
a module of its own (``static.py``: a tree of files, one per URL; ``bucket.py``: a
Package Storage v2 bucket) listed in ``command.FORMATS``.
"""
