"""What one request carries and the services it calls: context, writes, disclosures, exports."""
