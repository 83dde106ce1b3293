"""Publishing packages over HTTP: tokens, rate limits, storing uploads, audit lines, and
asking the main process for a catalog with the result.

Nothing here speaks HTTP (``web/routes/publish.py`` does): these modules decide who may
publish, whether an upload is a package the registry would serve, and where it goes.
"""
