"""The workbench for standards bodies: translate files, check mappings, keep golden samples."""
