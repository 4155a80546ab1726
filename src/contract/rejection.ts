/**
 * Why a record cannot become an event, in the order the decoder checks. Codes are stable: dead-letter rows,
 * metrics and alerts key on them, so a code is never renamed or reused.
 */
export const REJECTION_CODES = [
  'too_large',
  'missing_value',
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'unknown_type',
  'wrong_topic',
  'unsupported_version',
  'invalid_schema',
  'key_mismatch',
] as const;

export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface Rejection {
  readonly code: RejectionCode;
  /** For people: names the field and what it must be. Not stable; match on `code`. */
  readonly message: string;
}
