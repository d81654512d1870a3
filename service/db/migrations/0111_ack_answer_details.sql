-- What an abuse desk says besides its answer (issue 5): for "not ours", who is responsible
-- instead (a company, an abuse address: shown to analysts, who route the notice on); for a
-- dispute, whether the content is lawful or the match is wrong (kept for the hash source).
-- Both optional: answers given before this, and by mail bots, carry neither.
ALTER TABLE ack_answers
    ADD COLUMN responsible    text NOT NULL DEFAULT '' CHECK (length(responsible) <= 500),
    ADD COLUMN dispute_reason text CHECK (dispute_reason IN ('lawful_content', 'wrong_match'));
