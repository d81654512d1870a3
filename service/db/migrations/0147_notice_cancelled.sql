-- A notice cancelled before it was sent (every item of it withdrawn): 'cancelled', not 'failed'.
-- A failed notice counts against its recipient in the hosters' statistics (contact failures);
-- a withdrawal is the hotline's own doing and must not.
ALTER TYPE notice_state ADD VALUE IF NOT EXISTS 'cancelled';
