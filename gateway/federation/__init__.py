"""The gateway as a federation over registry nodes (docs/architecture.md, Federation)."""

from .config import ConfigError, RegistryConfig, load_federation, registries_from
from .source import FederatedSource

__all__ = ["ConfigError", "FederatedSource", "RegistryConfig", "load_federation", "registries_from"]
