"""The pure core: canonical JSON, hashing, the log tree, the status map, proofs, checkpoint notes,
signatures and the verifier's decision logic.

Nothing here does I/O: no files, sockets, databases or chains (a test enforces the boundary).
"""
