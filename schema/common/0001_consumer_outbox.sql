-- Tables the eck client library keeps in every daemon schema
-- (applied with search_path set to that schema; see libeck/include/eck/migrate.h).

-- Where each consumer stands in the broker's journal. Written in the same
-- transaction as the effects of the events it applied (guarantee 3).
CREATE TABLE consumer_position (
  consumer    text PRIMARY KEY,
  position    bigint NOT NULL CHECK (position >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Valid events the daemon could not apply, with the reason (guarantee 6).
CREATE TABLE dead_letter (
  id          bigserial PRIMARY KEY,
  consumer    text NOT NULL,
  seq         bigint NOT NULL,
  event_id    text NOT NULL,
  topic       text NOT NULL,
  envelope    bytea NOT NULL,
  reason      text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (consumer, seq)
);

-- Events the daemon produced, written in the transaction of the state
-- change that produced them; the relay publishes them (guarantee 4).
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  event_id    uuid NOT NULL UNIQUE,
  topic       text NOT NULL,
  envelope    bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  acked_seq   bigint,
  acked_at    timestamptz,
  rejected    text
);
CREATE INDEX outbox_unacked ON outbox (id) WHERE acked_seq IS NULL AND rejected IS NULL;
