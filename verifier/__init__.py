"""Verification of certreg proof bundles, for anyone: the trust store, the chain reads, the
fresh-status refresh and the auditor. The pure decision logic lives in `registry.core.verify`."""
