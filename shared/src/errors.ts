/** Base class of every error x0tta6bl4 throws: named, and chaining its `cause`. */
export class X0Error extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A configuration value is missing or invalid; `variable` names it. */
export class ConfigError extends X0Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    options?: ErrorOptions,
  ) {
    super(`invalid configuration: ${variable}: ${expected}`, options);
  }
}

/** A message does not match the schema of its subject. */
export class ContractViolation extends X0Error {
  constructor(
    readonly subject: string,
    readonly issues: string,
    options?: ErrorOptions,
  ) {
    super(`message on ${subject} violates its contract: ${issues}`, options);
  }
}

/** A KV record is not JSON or does not match its schema; `key` names it. */
export class InvalidRecord extends X0Error {
  constructor(
    readonly key: string,
    readonly issues: string,
    options?: ErrorOptions,
  ) {
    super(`record ${key} is invalid: ${issues}`, options);
  }
}

/** A subject token (e.g. a node id) is not a valid single NATS token. */
export class InvalidSubjectToken extends X0Error {}

/** NATS or JetStream could not be reached or set up. */
export class NatsSetupError extends X0Error {}

/** A consumer handler cannot finish a message yet: JetStream redelivers it after `delayMs` (not counted as a failure). */
export class RedeliverLater extends X0Error {
  constructor(
    message: string,
    readonly delayMs: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
