// The one way pgfactory hides a password: what is shown in its place, and how it is cut out of
// a message or a URI.

/** What `config` and messages show instead of a password. */
export const REDACTED_PASSWORD = '********';

/** `text` with every occurrence of `secret` replaced by the mask (nothing to do for no secret). */
export function maskSecret(text: string, secret: string | undefined): string {
  return secret === undefined || secret === '' ? text : text.split(secret).join(REDACTED_PASSWORD);
}

/** The URI with any password masked, safe for messages. Over-redacts rather than leaks. */
export function redactUri(uri: string): string {
  let redacted = uri;
  const authorityStart = redacted.indexOf('://');
  const lastAt = redacted.lastIndexOf('@');
  if (authorityStart !== -1 && lastAt > authorityStart) {
    const userinfo = redacted.slice(authorityStart + 3, lastAt);
    const colon = userinfo.indexOf(':');
    if (colon !== -1) {
      redacted = `${redacted.slice(0, authorityStart + 3)}${userinfo.slice(0, colon)}:${REDACTED_PASSWORD}${redacted.slice(lastAt)}`;
    }
  }
  return redacted.replace(/([?&]password=)[^&#]*/gi, `$1${REDACTED_PASSWORD}`);
}
