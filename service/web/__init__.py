"""HTTP: the scanner API, hotline API, acknowledgment pages and oversight pages."""
