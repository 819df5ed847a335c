"""Bundled demo data: a seeded generator of stakeholder files with known, seeded defects."""
