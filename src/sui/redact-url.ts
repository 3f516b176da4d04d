/** What stands for the hidden part of a URL. */
export const REDACTED = '…';

const PARTS = /^([a-z][a-z0-9+.-]*:\/\/)(?:[^/?#]*@)?([^/?#]*)(.*)$/is;

/**
 * An endpoint URL as it may be shown (health output, error messages, logs, metric labels).
 * Providers put API keys in the userinfo, the path or the query, so only the scheme, host and port
 * are kept as written; anything else becomes `/…` (`https://user:key@host:443/v1/key?k=1` →
 * `https://host:443/…`). A URL with nothing beyond its host (or a bare `/`) is shown unchanged.
 */
export function redactUrl(url: string): string {
  const parts = PARTS.exec(url);
  if (!parts) return REDACTED;
  const [, scheme, host, rest] = parts;
  const hidden = url.length > scheme.length + host.length + rest.length || (rest !== '' && rest !== '/');
  return `${scheme}${host}${hidden ? `/${REDACTED}` : rest}`;
}
