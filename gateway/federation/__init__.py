"""The gateway as a federation over registry nodes (docs/architecture.md, Federation)."""

from .config import ConfigError, RegistryConfig, load_federation, registries_from
from .source import FederatedSource

# The name a federating gateway signs its exported credentials under.
SIGNER_NAME = "robopass-gateway"

__all__ = [
    "SIGNER_NAME",
    "ConfigError",
    "FederatedSource",
    "RegistryConfig",
    "load_federation",
    "registries_from",
]
