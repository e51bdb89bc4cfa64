"""What the tests share: ports, servers, fleets, tokens, samples and oracles.

Test modules import from here and never from one another (tests/README.md).
"""
