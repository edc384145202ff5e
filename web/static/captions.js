/* Captions: text streams on the protocol's transcription topic become caption objects, and a
 * board shows one row per source segment (grouped by the caption's source_segment_id), in my
 * language when it has arrived, else the original. Reusable: the board works on the elements
 * it is given and looks up no ids.
 */

const MAX_ROWS = 300;
const TRANSLATION_WAIT_MS = 6000; // a final original without its interpretation into mine

/** Call `onCaption(caption)` for every caption the room receives:
 * {speaker, segmentId, sourceSegmentId, final, language, sourceLanguage, translated, text}. */
export function listenForCaptions(room, protocol, onCaption) {
  room.handleText(protocol.topics.transcription, async (reader, participantInfo) => {
    let text;
    try {
      text = await reader.readAll();
    } catch (e) {
      return; // the stream broke off: the next update replaces it
    }
    onCaption({
      speaker: participantInfo.identity,
      text,
      ...protocol.captionFrom(reader.info.attributes, reader.info.id),
    });
  });
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class CaptionBoard {
  /**
   * @param {object} o
   * @param {HTMLElement} o.container   rows go here (scrollable)
   * @param {HTMLElement} [o.emptyNotice] shown while there is no row
   * @param {HTMLElement} [o.announcer]  a polite live region for screen readers
   * @param {HTMLElement} [o.jumpButton] shown while the reader has scrolled up
   * @param {(a: string, b: string) => boolean} o.matches  the language rule
   * @param {(identity: string) => string} o.displayName
   * @param {(code: string) => string} o.languageName
   * @param {(speaker: string) => void} [o.onMissingTranslation] a final original stayed
   *        without an interpretation into my language
   * @param {(speaker: string) => void} [o.onTranslation] an interpretation into mine arrived
   */
  constructor(o) {
    Object.assign(this, {
      onMissingTranslation: () => {},
      onTranslation: () => {},
      maxRows: MAX_ROWS,
      translationWaitMs: TRANSLATION_WAIT_MS,
    }, o);
    this.rows = new Map(); // source segment id -> {row, body, tag, mine, final}
    this.language = null;
    this.stickToBottom = true;
    this.container.addEventListener('scroll', () => this.onScroll());
    if (this.jumpButton) this.jumpButton.addEventListener('click', () => this.scrollToBottom());
  }

  /** Show captions in `language` from now on; earlier rows stay readable. */
  setLanguage(language) {
    const had = this.language !== null;
    this.language = language;
    if (!had) return;
    for (const entry of this.rows.values()) entry.row.classList.add('earlier');
    this.rows.clear();
    if (this.emptyNotice && !this.emptyNotice.hidden) return;
    this.container.appendChild(el('p', 'caption-divider', `Now in ${this.languageName(language)}`));
    if (this.stickToBottom) this.scrollToBottom();
  }

  show(c) {
    if (!this.language || !c.text.trim()) return;
    const mine = this.matches(c.language, this.language);
    if (c.translated && !mine) return; // someone else's language
    const key = c.sourceSegmentId;
    let entry = this.rows.get(key);
    if (entry && entry.mine && !mine) return; // never replace my language by the original
    if (entry && entry.final && entry.mine && !c.final) return;
    const stick = this.stickToBottom;
    if (!entry) {
      entry = { row: el('div', 'caption') };
      entry.body = el('span', 'text');
      entry.tag = el('span', 'lang-tag');
      entry.row.append(el('span', 'speaker', this.displayName(c.speaker)), entry.tag, entry.body);
      this.container.appendChild(entry.row);
      if (this.emptyNotice) this.emptyNotice.hidden = true;
      this.rows.set(key, entry);
      this.trim();
    }
    entry.mine = mine;
    entry.final = c.final;
    entry.body.textContent = c.text;
    entry.body.lang = c.language;
    entry.tag.textContent = mine ? '' : c.language;
    entry.tag.title = mine ? '' : `original, ${this.languageName(c.language)}`;
    entry.row.classList.toggle('interim', !c.final || !mine);
    entry.row.classList.toggle('original', !mine);
    entry.row.classList.toggle('final', c.final && mine);
    entry.row.dataset.language = c.language;
    entry.row.dataset.speaker = c.speaker;
    if (c.final && mine) this.announce(`${this.displayName(c.speaker)}: ${c.text}`);
    if (c.translated) this.onTranslation(c.speaker);
    if (c.final && !mine) this.expectTranslation(key, c.speaker);
    if (stick) this.scrollToBottom();
  }

  expectTranslation(key, speaker) {
    // a final sentence in another language should be followed by its interpretation into
    // mine; when it is not, there is none for this pair (no engine or voice for it)
    const language = this.language;
    setTimeout(() => {
      const entry = this.rows.get(key);
      if (this.language !== language || !entry || entry.mine) return;
      this.onMissingTranslation(speaker);
    }, this.translationWaitMs);
  }

  trim() {
    while (this.rows.size > this.maxRows) {
      const [key, entry] = this.rows.entries().next().value;
      entry.row.remove();
      this.rows.delete(key);
    }
  }

  clear() {
    this.rows.clear();
    this.language = null;
    this.container.replaceChildren(...(this.emptyNotice ? [this.emptyNotice] : []));
    if (this.emptyNotice) this.emptyNotice.hidden = false;
    if (this.announcer) this.announcer.replaceChildren();
  }

  announce(text) {
    if (!this.announcer) return;
    this.announcer.appendChild(el('p', null, text));
    while (this.announcer.childNodes.length > 5) this.announcer.firstChild.remove();
  }

  scrollToBottom() {
    this.container.scrollTop = this.container.scrollHeight;
    this.stickToBottom = true;
    if (this.jumpButton) this.jumpButton.hidden = true;
  }

  onScroll() {
    const box = this.container;
    this.stickToBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 24;
    if (this.jumpButton) this.jumpButton.hidden = this.stickToBottom;
  }
}
