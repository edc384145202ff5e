/* The room protocol as the server serves it (GET /api/protocol), and the one language-matching
 * rule. Every attribute, topic and identity name the page uses comes from here; nothing is
 * copied into the page's code. No DOM and no LiveKit: importable from Node (tests/js).
 */

/** The script a canonical BCP-47 code is written in: an explicit script subtag, else the one
 * its region implies (zh-TW -> Hant), else the language's only script; null when open (zh). */
export function scriptOf(code, tables) {
  const parts = String(code || '').split('-');
  const language = parts[0].toLowerCase();
  for (const part of parts.slice(1)) {
    if (/^[A-Za-z]{4}$/.test(part)) return part[0].toUpperCase() + part.slice(1).toLowerCase();
  }
  if (parts.length > 1) {
    const implied = tables.region_scripts[`${language}-${parts[parts.length - 1].toUpperCase()}`];
    if (implied) return implied;
  }
  const only = tables.scripts[language];
  return only === undefined ? null : only;
}

export function primaryOf(code) {
  return String(code || '').split('-')[0].toLowerCase();
}

/** Whether a listener of `a` is served by `b` (and back): the same primary language in
 * compatible scripts, whatever the region (languages.matches on the server). */
export function matches(a, b, tables) {
  if (!a || !b || primaryOf(a) !== primaryOf(b)) return false;
  const x = scriptOf(a, tables);
  const y = scriptOf(b, tables);
  return x === null || y === null || x === y;
}

/** The protocol document with helpers; `doc` is the JSON of GET /api/protocol. */
export class Protocol {
  constructor(doc) {
    this.doc = doc;
    this.attributes = doc.attributes;
    this.roles = doc.roles;
    this.topics = doc.topics;
    this.caption = doc.caption_attributes;
    this.agentPrefix = doc.agent_identity_prefix;
    this.roomName = doc.room_name;
    this.tables = doc.language_matching;
  }

  matches(a, b) {
    return matches(a, b, this.tables);
  }

  isAgentIdentity(identity) {
    return String(identity || '').startsWith(this.agentPrefix);
  }

  /** The speaker a translator agent interprets: its source attribute, else its identity. */
  speakerOfAgent(participant) {
    const source = participant.attributes[this.attributes.source];
    if (source) return source;
    return this.isAgentIdentity(participant.identity)
      ? participant.identity.slice(this.agentPrefix.length) : null;
  }

  isTranslator(participant) {
    return Boolean(participant && participant.isAgent && this.speakerOfAgent(participant));
  }

  isInterpreter(participant) {
    return participant.attributes[this.attributes.role] === this.roles.interpreter;
  }

  /** The language a human interpreter is live on, or null. */
  liveLanguageOf(participant) {
    return participant.attributes[this.attributes.interpreter_live] || null;
  }

  languageOf(participant) {
    return participant.attributes[this.attributes.language] || null;
  }

  roleOf(participant) {
    return participant.attributes[this.attributes.role] || null;
  }

  /** A caption's fields from a text stream's attributes (null when not a caption). */
  captionFrom(attributes, fallbackId) {
    const a = attributes || {};
    const c = this.caption;
    const segmentId = a[c.segment_id] || fallbackId;
    return {
      segmentId,
      sourceSegmentId: a[c.source_segment_id] || segmentId,
      final: a[c.final] === 'true',
      language: a[c.language] || '',
      sourceLanguage: a[c.source_language] || a[c.language] || '',
      translated: a[c.translated] === 'true',
    };
  }

  roomNameValid(name) {
    return new RegExp(`^(?:${this.roomName.pattern})$`).test(name)
      && name.length <= this.roomName.max_length;
  }
}

/** Fetch and wrap the protocol document. */
export async function loadProtocol(fetchJson, url = '/api/protocol') {
  return new Protocol(await fetchJson(url));
}
