/** Codes every module's errors map to; one filter turns them into HTTP answers. */
export enum ErrorCode {
  NotFound = 'not_found',
  Invalid = 'invalid',
  Conflict = 'conflict',
  Unauthorized = 'unauthorized',
  Forbidden = 'forbidden',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
}

export interface FieldIssue {
  /** Dotted path of the field, e.g. `events.3.occurredAt`. */
  path: string;
  message: string;
  /** 1-based line of an imported file, when the issue belongs to one row. */
  line?: number;
}

/** Business errors carry a code, never an HTTP status. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
