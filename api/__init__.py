"""The edges of the system: the HTTP API and the `certreg` command line."""
