"""Transparency logs: RFC 6962/9162 Merkle trees and the C2SP note formats.

Pure code, no I/O: `merkle` hashes trees and makes and checks inclusion and
consistency proofs, `note` reads and writes signed notes, checkpoints and
witness cosignatures, `leaves` says what one registry event contributes to its
log. The node, the witness and the gateway share these so that all three agree
byte for byte.
"""
