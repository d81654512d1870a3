"""The use-case layer: one function per thing that changes a case, arranged by pipeline stage.

Each function owns its transaction and appends its audit event. HTTP handlers, pages, workers and
the CLI call these (and the query functions beside them) and never ``service.db`` directly.
"""
