"""POP evidence pipeline: shared plumbing (settings, database engine, paths) and the command line."""
