"""The work of the pipeline, by stage: registry, extract, convert, harmonise, validate, load, report."""
