"""Operating the gateway: Prometheus metrics."""
