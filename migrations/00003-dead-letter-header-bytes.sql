-- Kafka headers are bytes, and a record's may hold anything, NUL included, which neither jsonb nor text can.
-- They become two parallel arrays, header_names[i] being the name of header_values[i], in the order the
-- consumer gave them, a repeated name once per value, a header without a value as a NULL element. Two bytea[] rather than
-- one bytea in an encoding of our own, so SQL reads them with nothing to decode:
--   SELECT convert_from(n, 'UTF8'), v FROM dead_letters, unnest(header_names, header_values) AS h(n, v) …
ALTER TABLE dead_letters
  ADD COLUMN header_names  BYTEA[] NOT NULL DEFAULT '{}',
  ADD COLUMN header_values BYTEA[] NOT NULL DEFAULT '{}',
  ADD CONSTRAINT dead_letters_headers_paired
    CHECK (cardinality(header_names) = cardinality(header_values));

-- Rows stored before: headers was a JSON object of name → string (repeated values joined by ',', which cannot be
-- split back). Each pair becomes its text's UTF-8 bytes, which is exactly what the object held; jsonb had
-- already sorted the names, so that is their order. The service only ever wrote objects there; anything else
-- (a hand edit) is kept whole, as its JSON text under an empty name. Then the jsonb column holds nothing the
-- arrays do not, and goes.
UPDATE dead_letters AS d
SET header_names = h.header_names, header_values = h.header_values
FROM (
  SELECT id,
         array_agg(convert_to(e.name, 'UTF8') ORDER BY e.position) AS header_names,
         array_agg(convert_to(e.value, 'UTF8') ORDER BY e.position) AS header_values
  FROM dead_letters,
       jsonb_each_text(CASE WHEN jsonb_typeof(headers) = 'object' THEN headers
                            ELSE jsonb_build_object('', headers::text) END)
         WITH ORDINALITY AS e(name, value, position)
  GROUP BY id
) AS h
WHERE d.id = h.id;

ALTER TABLE dead_letters DROP COLUMN headers;
