-- When an open notice batch is due to be sent: the gathering window after the moment its
-- earliest item became ready for it (a fresh case's resolution; otherwise when it joined),
-- so that no case waits for company longer than the window after it is ready, however long
-- the outbox took to place it. Set as items join (only ever moved earlier); NULL on rows
-- from before: created_at + the window.
ALTER TABLE notices ADD COLUMN due_at timestamptz;
