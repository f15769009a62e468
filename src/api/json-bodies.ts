import type { FastifyInstance } from 'fastify';
import { InvalidArgument } from '../errors/index.js';

const SEND_JSON = 'send Content-Type: application/json with a JSON body';
/** What `curl -d` sends when no -H says otherwise. */
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * Reads a body sent as curl's form type or with no Content-Type as JSON, as HTTP/JSON
 * transcoding gateways do, so `curl -d '{"data":…}'` works; any other type is refused with
 * the header to send. Scoped to the API-key routes: `@connections` keeps its raw bodies.
 */
export function acceptJsonWithoutItsType(app: FastifyInstance): void {
  const parseJson = (text: string, describedType: string): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new InvalidArgument(`the request body (${describedType}) is not JSON: ${SEND_JSON}`, 'body');
    }
  };
  app.addContentTypeParser(FORM_TYPE, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJson(body as string, `Content-Type: ${FORM_TYPE}`));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // The catch-all also receives bodies that carry no Content-Type at all.
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const type = req.headers['content-type'];
    try {
      if (type !== undefined) throw new InvalidArgument(`Content-Type ${JSON.stringify(type.slice(0, 100))} is not supported: ${SEND_JSON}`, 'body');
      done(null, parseJson(body as string, 'no Content-Type'));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
