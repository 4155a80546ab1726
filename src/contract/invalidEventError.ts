/**
 * Thrown to publishers for an event that breaks the contract, before anything is sent. Publishing is the one
 * place where a bad event is a programming error rather than data to dead-letter, so it throws.
 */
export class InvalidEventError extends Error {
  readonly code = 'invalid_event';
  /** One line per problem, each starting with the field: `channel_id: must be a decimal string…`. */
  readonly problems: readonly string[];

  /** `subject` says which event, e.g. `message_sent event` or `batch entry [3]`. */
  constructor(subject: string, problems: readonly string[]) {
    super(`Invalid ${subject}; fix these fields before publishing:\n  ${problems.join('\n  ')}`);
    this.name = 'InvalidEventError';
    this.problems = problems;
  }
}
