"""Passports as verifiable credentials: signing, the registry's keys, offline verification."""
