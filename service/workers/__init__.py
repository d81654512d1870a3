"""Workers: one claim loop shared by every stage (resolve, notify, probe, escalate)."""
