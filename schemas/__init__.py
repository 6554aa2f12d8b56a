"""JSON Schemas shipped with driftcheck: spec documents and the JSON report."""
