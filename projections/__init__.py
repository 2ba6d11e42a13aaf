"""Read models derived from the event log: lookups, lineage and attribution."""
