"""Notices: rendering, the machine-readable parts, SMTP, acknowledgment tokens, bounces."""
