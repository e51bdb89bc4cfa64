"""The deterministic synthetic fleet and its catalogue of fictional parties."""
