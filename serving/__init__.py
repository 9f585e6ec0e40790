"""Tarozu's scoring API: FastAPI app, audit log, API keys and the serve/keys/audit-log commands."""
