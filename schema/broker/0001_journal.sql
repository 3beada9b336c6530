-- The broker's journal: every acknowledged event, once, in commit order.
-- The broker is the only writer; it assigns seq in process (gap-free, no
-- sequence object), so positions never skip on a rolled-back transaction.
CREATE TABLE journal (
  seq            bigint PRIMARY KEY CHECK (seq > 0),
  event_id       uuid   NOT NULL UNIQUE,          -- permanent dedupe key
  topic          text   NOT NULL,
  prev_topic_seq bigint NOT NULL CHECK (prev_topic_seq >= 0 AND prev_topic_seq < seq),
  envelope       bytea  NOT NULL,                 -- eck.v1.Envelope exactly as published
  committed_at   timestamptz NOT NULL DEFAULT now()
);

-- Last sequence per topic, so the fan-out's prev_topic_seq and the
-- heartbeat's topic heads survive a restart without scanning the journal.
CREATE TABLE topic_head (
  topic    text PRIMARY KEY,
  last_seq bigint NOT NULL
);

-- Identity of this journal; consumers can tell a recreated journal apart.
CREATE TABLE journal_info (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  journal_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO journal_info (journal_id) VALUES (gen_random_uuid());
