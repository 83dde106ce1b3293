"""Start-up configuration: flags, ``EPR_*`` variables and ``config.yml``, as one ``Settings``."""

from package_registry.config.settings import ConfigError, Settings, UsageRequested, load_settings

__all__ = ["ConfigError", "Settings", "UsageRequested", "load_settings"]
