import type { FastifyRequest, FastifySchemaValidationError, FastifyServerOptions } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { InvalidArgument } from '../errors/index.js';
import { isBase64 } from './payload.js';

/**
 * Fastify validates every request against the route's schemas (schemas.ts) with Ajv; this
 * file sets Ajv up and turns its errors into the google.rpc.Status answers the API has always
 * given: the same message, naming the same field.
 *
 * Ajv collects every error of a request part (allErrors) so the one answered is chosen here in
 * the API's fixed order (body shape, unknown fields, then the fields in FIELD_ORDER) rather than
 * in Ajv's keyword order. A body is at most 256 KiB, so the errors of one are bounded by what
 * JSON.parse already built.
 */

type AjvOptions = NonNullable<FastifyServerOptions['ajv']>;
type AjvInstance = Parameters<NonNullable<AjvOptions['onCreate']>>[0];

/** The keyword of a query parameter that is a decimal integer written as a string. */
export const INTEGER_RANGE = 'x-integer-range';

export interface IntegerRange {
  minimum: number;
  maximum: number;
}

export const AJV_OPTIONS: AjvOptions = {
  // No coercion: "12345" is not a number and ["TEXT"] is not a string; query strings are
  // strings and the schemas say so. No defaults or removal: the handler sees what was sent.
  customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: true, verbose: true },
  // After ajv-formats, whose `byte` would refuse the base64url and unpadded forms we accept.
  onCreate: (ajv: AjvInstance) => {
    ajv.addFormat('byte', { type: 'string', validate: isBase64 });
    ajv.addKeyword({
      keyword: INTEGER_RANGE,
      type: 'string',
      schemaType: 'object',
      validate: (range: IntegerRange, value: string) => !/^\d+$/.test(value) || inRange(Number(value), range),
    });
  },
};

function inRange(n: number, range: IntegerRange): boolean {
  return Number.isSafeInteger(n) && n >= range.minimum && n <= range.maximum;
}

/** What `verbose` adds to an Ajv error: the value at fault and the schema holding the keyword. */
interface VerboseError extends FastifySchemaValidationError {
  data?: unknown;
  parentSchema?: { minLength?: number; pattern?: string; [INTEGER_RANGE]?: IntegerRange };
}

/** The order the API has always checked fields in; the first failing one is answered. */
const FIELD_ORDER = ['topic', 'data', 'type', 'idempotencyKey', 'tenantId', 'sinceOffset', 'limit', 'epoch', 'pageSize', 'pageToken', 'view'];

const MESSAGES: Record<string, (error: VerboseError, field: string) => string> = {
  data: (error) => (error.keyword === 'format' ? 'data is not valid base64' : 'data must be a base64 string'),
  type: (error) => `type must be "TEXT" or "BINARY", got ${JSON.stringify(error.data)}`,
  // A topic to subscribe or publish to; the list filter `topic` is any string, and falls through.
  topic: (error, field) => (error.keyword === 'required' || error.parentSchema?.pattern !== undefined ? 'topic must be 1-256 printable ASCII characters without spaces' : anyValue(error, field)),
  idempotencyKey: () => 'idempotencyKey must be a string of 1-256 characters',
  tenantId: (error) => (error.parentSchema?.minLength === 1 ? 'tenantId must be a non-empty string' : 'tenantId must be a string'),
  view: (error) => `view must be "BASIC" or "FULL", got ${JSON.stringify(error.data)}`,
  pageToken: () => 'pageToken is not a token this API issued',
};

function messageOf(error: VerboseError, field: string): string {
  const range = error.parentSchema?.[INTEGER_RANGE];
  if (range !== undefined) {
    return error.keyword === INTEGER_RANGE ? `${field} must be between ${range.minimum} and ${range.maximum}` : `${field} must be an integer, got ${JSON.stringify(error.data)}`;
  }
  const message = MESSAGES[field];
  return message !== undefined ? message(error, field) : anyValue(error, field);
}

function anyValue(error: VerboseError, field: string): string {
  return `${field} must be a ${String(error.params.type ?? 'valid value')}, got ${JSON.stringify(error.data)}`;
}

/** The field an error is about: an unknown one, a missing one, or the one at its path. */
function fieldOf(error: VerboseError): string {
  if (error.keyword === 'additionalProperties') return String(error.params.additionalProperty);
  if (error.keyword === 'required') return String(error.params.missingProperty);
  return decodeURIComponent(error.instancePath.split('/')[1] ?? '').replace(/~1/g, '/').replace(/~0/g, '~');
}

function rank(error: VerboseError): number {
  if (error.instancePath === '' && error.keyword === 'type') return -2;
  if (error.keyword === 'additionalProperties') return -1;
  const index = FIELD_ORDER.indexOf(fieldOf(error));
  return index < 0 ? FIELD_ORDER.length : index;
}

/** The InvalidArgument for a part that failed its schema. */
export function invalidArgumentOf(errors: readonly FastifySchemaValidationError[]): InvalidArgument {
  // A stable sort: among equals, Ajv's own order (unknown fields in the order sent).
  const error = [...errors].sort((a, b) => rank(a) - rank(b))[0] as VerboseError | undefined;
  if (error === undefined) return new InvalidArgument('request is not valid', 'body');
  if (error.instancePath === '' && error.keyword === 'type') return new InvalidArgument('request body must be a JSON object', 'body');
  const field = fieldOf(error);
  if (error.keyword === 'additionalProperties') return new InvalidArgument(`unknown field "${field}"`, field);
  return new InvalidArgument(messageOf(error, field), field);
}

/** Fastify's hook for a request part that fails its schema: our error, not Ajv's text. */
export const schemaErrorFormatter: NonNullable<FastifyServerOptions['schemaErrorFormatter']> = (errors) => invalidArgumentOf(errors);

/**
 * Validates a value against a schema with the route's Ajv (compiled once per schema): a custom
 * method's body, whose schema depends on the verb after the colon, or a topic in the path,
 * checked before the rest of the request.
 */
export function validateBody(req: FastifyRequest, schema: TSchema, body: unknown = req.body): void {
  const validate = req.compileValidationSchema(schema, 'body');
  if (validate(body) !== true) throw invalidArgumentOf(validate.errors ?? []);
}
