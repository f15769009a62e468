/** The settings file's `topics` list: per-pattern history, presence and permission rules. */
import { AUTHORIZE_DEFAULTS, TOPIC_DEFAULTS } from './defaults.js';
import { MAX_TIMER_SECONDS } from './setting-values.js';
import { TOPIC_ACCESS, TOPIC_ACTIONS, type TopicAuthorizeSetting, type TopicPermissionRules, type TopicSettings } from './types.js';
import { childPath, describeValue, itemPath, type FieldReader, type YamlMapping } from './yaml-fields.js';

const TOPIC_KEYS = ['pattern', 'historySize', 'historyTtlSeconds', 'presence', 'joinLeave', 'permissions', 'authorize'];
const AUTHORIZE_KEYS = ['url', 'timeoutSeconds', 'cacheSeconds'];
/** `{tenantId}` and `{userId}` bind a pattern to the connection; any other `{…}` is a typo. */
const PATTERN_PLACEHOLDER = /\{([^}]*)\}/g;

/** Reads `topics`; `hasJwt` says whether `auth.jwt` is set, which `token` permissions need. */
export function readTopics(f: FieldReader, value: unknown, hasJwt: boolean): TopicSettings[] {
  const firstIndexOfPattern = new Map<string, number>();
  return (f.list(value, 'topics') ?? []).map((entry, index) => {
    const entryPath = itemPath('topics', index);
    const topic = f.required(f.mapping(entry, entryPath, TOPIC_KEYS), entryPath);
    const patternPath = childPath(entryPath, 'pattern');
    const pattern = f.required(f.string(topic.pattern, patternPath), patternPath, 'a glob such as "*:chat.*"');
    const earlier = firstIndexOfPattern.get(pattern);
    // The first matching pattern wins, so a repeated one could never apply.
    if (earlier !== undefined) f.fail(patternPath, `repeats topics[${earlier}].pattern ${describeValue(pattern)}, which always matches first`);
    firstIndexOfPattern.set(pattern, index);
    return {
      pattern,
      historySize: f.integer(topic.historySize, childPath(entryPath, 'historySize'), 0) ?? TOPIC_DEFAULTS.historySize,
      historyTtlSeconds:
        f.integer(topic.historyTtlSeconds, childPath(entryPath, 'historyTtlSeconds'), 1, MAX_TIMER_SECONDS) ??
        TOPIC_DEFAULTS.historyTtlSeconds,
      presence: f.boolean(topic.presence, childPath(entryPath, 'presence')) ?? TOPIC_DEFAULTS.presence,
      joinLeave: f.boolean(topic.joinLeave, childPath(entryPath, 'joinLeave')) ?? TOPIC_DEFAULTS.joinLeave,
      ...readTopicPermissions(f, topic, entryPath, pattern, hasJwt),
    };
  });
}

/** `permissions` and `authorize` of one `topics[]` entry: present in the result only when set. */
function readTopicPermissions(
  f: FieldReader,
  topic: YamlMapping,
  entryPath: string,
  pattern: string,
  hasJwt: boolean,
): Pick<TopicSettings, 'permissions' | 'authorize'> {
  for (const match of pattern.matchAll(PATTERN_PLACEHOLDER)) {
    if (match[1] !== 'tenantId' && match[1] !== 'userId') {
      f.fail(childPath(entryPath, 'pattern'), `placeholder ${describeValue(match[0])} is unknown: use {tenantId} or {userId}`);
    }
  }
  const result: Pick<TopicSettings, 'permissions' | 'authorize'> = {};
  const permissions = readPermissionRules(f, topic.permissions, childPath(entryPath, 'permissions'), hasJwt);
  if (permissions) result.permissions = permissions;
  const authorizePath = childPath(entryPath, 'authorize');
  const authorize = f.mapping(topic.authorize, authorizePath, AUTHORIZE_KEYS);
  const asksBackend = permissions !== undefined && TOPIC_ACTIONS.some((action) => permissions[action] === 'backend');
  if (authorize) {
    if (!asksBackend) f.fail(authorizePath, 'is set but no permission of this topic is "backend"');
    result.authorize = readAuthorize(f, authorize, authorizePath);
  } else if (asksBackend) {
    f.fail(authorizePath, 'is required when a permission of this topic is "backend": {url, timeoutSeconds, cacheSeconds}');
  }
  return result;
}

function readPermissionRules(f: FieldReader, value: unknown, permissionsPath: string, hasJwt: boolean): TopicPermissionRules | undefined {
  const given = f.mapping(value, permissionsPath, TOPIC_ACTIONS);
  if (!given) return undefined;
  const permissions = {} as TopicPermissionRules;
  for (const action of TOPIC_ACTIONS) {
    const actionPath = childPath(permissionsPath, action);
    permissions[action] = f.oneOf(given[action], actionPath, TOPIC_ACCESS) ?? 'tenant';
    // Without auth.jwt no connection has a token: the rule could never allow anyone.
    if (permissions[action] === 'token' && !hasJwt) f.fail(actionPath, '"token" needs auth.jwt: without it no connection carries a token');
  }
  return permissions;
}

/** The values of an `authorize` mapping whose keys were already checked. */
function readAuthorize(f: FieldReader, authorize: YamlMapping, authorizePath: string): TopicAuthorizeSetting {
  const urlPath = childPath(authorizePath, 'url');
  const url = f.required(f.string(authorize.url, urlPath), urlPath, 'the backend that decides, e.g. http://127.0.0.1:3000/authorize');
  if (!/^https?:\/\//.test(url) || !URL.canParse(url)) f.fail(urlPath, `must be an http:// or https:// URL, got ${describeValue(url)}`);
  return {
    url,
    timeoutSeconds: f.integer(authorize.timeoutSeconds, childPath(authorizePath, 'timeoutSeconds'), 1, MAX_TIMER_SECONDS) ?? AUTHORIZE_DEFAULTS.timeoutSeconds,
    cacheSeconds: f.integer(authorize.cacheSeconds, childPath(authorizePath, 'cacheSeconds'), 0, MAX_TIMER_SECONDS) ?? AUTHORIZE_DEFAULTS.cacheSeconds,
  };
}
