/* The interpreters' booth as the web app keeps it: GET and POST /api/rooms/{room}/booth with the
 * interpreter's token. The server decides who is live (one per language, also under races);
 * this module only asks and reports what it answered, polling while started because the booth
 * changes through other people's actions too. No DOM and no LiveKit.
 *
 * Events (CustomEvent on the BoothClient):
 *   change  {doc}    a booth document arrived (from a poll or an action), newer than the last
 *   error   {error}  a poll failed (fetchJson's error: kind 'unreachable' or 'refused')
 */

const POLL_MS = 1000;

/** The claims of a LiveKit token, read without checking the signature (the server checks it;
 * the console only shows who it is): {identity, name, room, attributes}. */
export function decodeToken(jwt) {
  const part = String(jwt || '').split('.')[1];
  if (!part) throw new Error('not a token');
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0));
  const claims = JSON.parse(new TextDecoder().decode(bytes));
  return {
    identity: claims.sub || '',
    name: claims.name || claims.sub || '',
    room: (claims.video && claims.video.room) || '',
    attributes: claims.attributes || {},
    expiresAt: claims.exp ? claims.exp * 1000 : null,
  };
}

/** A comma-separated language list (the `interpreter.languages` attribute) as an array. */
export function languageList(value) {
  return String(value || '').split(',').map((code) => code.trim()).filter(Boolean);
}

/** The pending items of `doc` addressed to `identity`, oldest first. */
export function pendingFor(doc, identity) {
  return ((doc && doc.pending) || []).filter((item) => item.to === identity);
}

/** The pending items of `doc` that `identity` sent. */
export function pendingFrom(doc, identity) {
  return ((doc && doc.pending) || []).filter((item) => item.from === identity);
}

/** The language `identity` is live on according to `doc`, or ''. */
export function liveLanguageIn(doc, identity) {
  for (const [language, holder] of Object.entries((doc && doc.live) || {})) {
    if (holder === identity) return language;
  }
  return '';
}

export class BoothClient extends EventTarget {
  /**
   * @param {object} o
   * @param {string} o.room
   * @param {string} o.token          the interpreter's LiveKit token (bearer)
   * @param {Function} o.fetchJson    http.js's fetchJson
   * @param {number} [o.pollMs]
   */
  constructor({ room, token, fetchJson, pollMs = POLL_MS }) {
    super();
    this.url = `/api/rooms/${encodeURIComponent(room)}/booth`;
    this.token = token;
    this.fetchJson = fetchJson;
    this.pollMs = pollMs;
    this.doc = null;
    this.timer = null;
    this.running = false;
    this.sent = 0; // requests started
    this.applied = 0; // the newest request whose answer was applied
  }

  headers() {
    return { Authorization: `Bearer ${this.token}` };
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Keep only answers to requests started after the one last applied: a poll that left
   * before an action must not undo what the action's answer showed. */
  accept(seq, doc) {
    if (seq <= this.applied || !doc) return;
    this.applied = seq;
    this.doc = doc;
    this.emit('change', { doc });
  }

  /** Fetch the booth now; resolves with the document (throws fetchJson's errors). */
  async refresh() {
    const seq = ++this.sent;
    const doc = await this.fetchJson(this.url, { headers: this.headers() });
    this.accept(seq, doc);
    return doc;
  }

  /** POST one action ({action, language, to?}); resolves with the booth after it. */
  async act(action, language, to) {
    const seq = ++this.sent;
    const body = { action, language };
    if (to) body.to = to;
    const doc = await this.fetchJson(this.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...this.headers() },
      body: JSON.stringify(body),
    });
    this.accept(seq, doc);
    return doc;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.poll();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  async poll() {
    if (!this.running) return;
    try {
      await this.refresh();
    } catch (error) {
      if (this.running) this.emit('error', { error });
    }
    if (this.running) this.timer = setTimeout(() => this.poll(), this.pollMs);
  }
}
