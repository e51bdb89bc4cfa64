"""The Starlette application: the factory, downloads, bulk export, and its parts from settings."""
