/** What stands for the hidden part of a URL. */
const REDACTED = '…';

const PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?([^/?#]*)([^?#]*)(.*)$/is;
/** A host as written, an IPv6 one in brackets, with an optional port: anything else may be a secret. */
const HOST = /^(?:\[[^\]]*\]|[^:[\]]*)(?::\d*)?$/;

/**
 * An endpoint URL as it may be shown (health output, error messages, logs, metric labels).
 * Providers put API keys in the userinfo, the path or the query, so only the scheme, host and port
 * are kept as written; anything else becomes `/…` (`https://user:key@host:443/v1/key?k=1` →
 * `https://host:443/…`). A URL with nothing beyond its host (or a bare `/`) is shown unchanged.
 */
export function redactUrl(url: string): string {
  const parts = PARTS.exec(url);
  if (!parts) return REDACTED;
  const [, scheme, userinfo = '', host, path, rest] = parts;
  if (!HOST.test(host)) return `${scheme}${REDACTED}`;
  const hidden = userinfo !== '' || rest !== '' || (path !== '' && path !== '/');
  return `${scheme}${host}${hidden ? `/${REDACTED}` : path}`;
}

/**
 * A service URL (Postgres, Redis) as it may be shown: user, host, port and path (the database) as
 * written; the password, and any query or fragment (where a driver takes options, a password among
 * them), hidden: `postgres://app:secret@db:5432/main?sslmode=require` → `postgres://app:…@db:5432/main?…`.
 */
export function redactPassword(url: string): string {
  const parts = PARTS.exec(url);
  if (!parts) return REDACTED;
  const [, scheme, userinfo = '', host, path, rest] = parts;
  if (!HOST.test(host)) return `${scheme}${REDACTED}`;
  const colon = userinfo.indexOf(':');
  const user = colon === -1 ? userinfo : `${userinfo.slice(0, colon)}:${REDACTED}@`;
  return `${scheme}${user}${host}${path}${rest === '' ? '' : `${rest[0]}${REDACTED}`}`;
}
