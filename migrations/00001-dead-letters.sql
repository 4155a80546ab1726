-- Records the projector could not apply. Unique on the Kafka position, so a retried batch never stores a
-- record twice: the projector inserts with ON CONFLICT DO NOTHING before it lets its offset pass.
CREATE TABLE dead_letters (
  id             BIGSERIAL PRIMARY KEY,
  topic          TEXT        NOT NULL,
  partition      INTEGER     NOT NULL,
  "offset"       BIGINT      NOT NULL,
  key            BYTEA,
  value          BYTEA,
  headers        JSONB       NOT NULL DEFAULT '{}'::jsonb,
  error_code     TEXT        NOT NULL,
  error_message  TEXT        NOT NULL,
  received_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (topic, partition, "offset")
);

CREATE INDEX dead_letters_received_at ON dead_letters (received_at DESC);
CREATE INDEX dead_letters_error_code ON dead_letters (error_code);
