"""Allow ``python -m package_registry``."""

from package_registry.cli import main

raise SystemExit(main())
