"""``package-registry build``: a registry's answers written out ahead of time.

``command.py`` parses the subcommand and loads the packages once; each output format is
a module of its own (``static.py``: a tree of files, one per URL) listed in
``command.FORMATS``.
"""
