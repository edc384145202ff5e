/* The transcript panel: the languages the room's meeting has been transcribed into, each as a
 * WebVTT and SRT download (GET /api/rooms/{room}/transcript..., with the room token).
 */

import { bearer, fetchJson } from './http.js';

const REFRESH_MS = 20000;
const FORMATS = ['vtt', 'srt'];

export class TranscriptPanel {
  /**
   * @param {object} o
   * @param {HTMLElement} o.section  hidden while there is nothing to offer
   * @param {HTMLElement} o.list     a <ul> for one <li> per language
   * @param {(code: string) => string} o.languageName
   * @param {(message: string) => void} o.onError  a download failed
   */
  constructor(o) {
    Object.assign(this, o);
    this.timer = null;
    this.room = null;
    this.token = null;
  }

  start(room, token) {
    this.room = room;
    this.token = token;
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.room = null;
    this.section.hidden = true;
  }

  base() {
    return `/api/rooms/${encodeURIComponent(this.room)}/transcript`;
  }

  async refresh() {
    if (!this.room) return;
    let codes;
    try {
      codes = (await fetchJson(`${this.base()}/languages`, { headers: bearer(this.token) })).languages;
    } catch (e) {
      this.section.hidden = true; // not available: nothing to offer
      return;
    }
    this.list.replaceChildren();
    for (const code of codes) {
      const li = document.createElement('li');
      const label = code === 'original' ? 'Original' : this.languageName(code);
      const name = document.createElement('span');
      name.className = 'transcript-lang';
      name.textContent = label;
      li.appendChild(name);
      for (const format of FORMATS) {
        const a = document.createElement('a');
        a.className = 'download';
        a.textContent = format.toUpperCase();
        a.href = `${this.base()}.${format}?lang=${encodeURIComponent(code)}`;
        a.setAttribute('aria-label', `Download the ${label} transcript as ${format.toUpperCase()}`);
        a.addEventListener('click', (ev) => { ev.preventDefault(); this.download(a.href, code, format); });
        li.appendChild(a);
      }
      this.list.appendChild(li);
    }
    this.section.hidden = codes.length === 0;
  }

  async download(url, code, format) {
    try {
      const response = await fetch(url, { headers: bearer(this.token) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = `${this.room}-${code}.${format}`;
      document.body.appendChild(link);
      link.click();
      setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    } catch (e) {
      this.onError(`The transcript could not be downloaded (${e.message}).`);
    }
  }
}
