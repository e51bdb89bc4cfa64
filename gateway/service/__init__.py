"""What one request carries and the services it calls: the `Services` every surface holds,
context, writes, disclosures, exports."""
