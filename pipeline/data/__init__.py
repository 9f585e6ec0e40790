"""Data: the synthetic population, CTDC ingestion, validation and privacy guards."""
