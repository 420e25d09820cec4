"""The certificate registry: the pure core (`registry.core`) and the domain service around it.

Kept free of imports so that importing `registry.core` pulls in nothing that does I/O.
"""
