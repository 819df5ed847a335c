"""Declarative schemas: one YAML per stakeholder group, the vocabularies they check against, and the pandera models
built from them. Imports nothing of ours."""
