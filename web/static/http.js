/* JSON over HTTP to this web app: one error shape for the callers.
 * A network failure throws {kind: 'unreachable'}; a 4xx/5xx throws {kind: 'refused', status,
 * code, message} with the server's JSON error (see web/app.py).
 */

export async function fetchJson(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    const err = new Error('unreachable');
    err.kind = 'unreachable';
    throw err;
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const err = new Error((body && body.message) || `HTTP ${response.status}`);
    err.kind = 'refused';
    err.status = response.status;
    err.code = body && body.error;
    throw err;
  }
  return body;
}

export function bearer(token) {
  return { Authorization: `Bearer ${token}` };
}
