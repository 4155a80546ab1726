-- One row per rebuild of the state from the topics (readstates rebuild). Offsets are JSON objects
-- {"topic:partition": "offset"}: from = where the replay starts (the low watermarks), to = the high watermarks
-- when it started; a rebuild runs on past `to` until it has caught up with the live generation.
CREATE TABLE rebuilds (
  id              BIGSERIAL PRIMARY KEY,
  mode            TEXT        NOT NULL CHECK (mode IN ('online', 'offline')),
  instance        TEXT        NOT NULL,
  generation      TEXT,
  requested_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  started_at      TIMESTAMPTZ,
  finished_at     TIMESTAMPTZ,
  status          TEXT        NOT NULL DEFAULT 'requested'
                  CHECK (status IN ('requested', 'running', 'switching', 'succeeded', 'failed', 'abandoned')),
  events_applied  BIGINT      NOT NULL DEFAULT 0,
  from_offsets    JSONB,
  to_offsets      JSONB,
  error           TEXT
);

CREATE INDEX rebuilds_requested_at ON rebuilds (requested_at DESC);
