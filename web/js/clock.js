// The server's clock as seen from the browser, and the formatting of times and durations.
//
// The page never counts its own ticks: the time left is always `deadline − serverNow()`,
// where serverNow() is `Date.now() + offset`. The offset comes from
// - the WebSocket time echo (API.md "Clock"): offset = server_time − (sent + received) / 2,
//   the sample with the shortest round trip of the last few winning (its error is at most
//   half its round trip);
// - every frame's `server_time`: the server's clock read at least `server_time` when the frame
//   arrived, so the offset is at least `server_time − received`; an estimate below that bound
//   is raised to it, and one far above it (the local clock jumped) is brought back;
// - before any of those, an HTTP answer's `server_time`, taken at the request's midpoint.

import { t } from './strings.js';

const SAMPLES = 5;

export class ServerClock {
  constructor() {
    this.offset = 0;
    this.known = false;
    this.samples = [];
    this.bestRtt = Infinity;
    this.ahead = 0;
  }

  // A time echo: the client sent at `sent` (local ms), the server answered `serverMs`, the
  // answer arrived at `received` (local ms).
  sample(sent, serverMs, received) {
    const rtt = received - sent;
    if (!Number.isFinite(serverMs) || !(rtt >= 0) || rtt > 60000) return;
    this.samples.push({ rtt, offset: serverMs - (sent + received) / 2 });
    if (this.samples.length > SAMPLES) this.samples.shift();
    const best = this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    this.bestRtt = best.rtt;
    this.offset = best.offset;
    this.known = true;
  }

  // A frame stamped `serverMs` by the server arrived at `received`.
  observe(serverMs, received) {
    if (!Number.isFinite(serverMs)) return;
    const bound = serverMs - received;
    const rtt = Number.isFinite(this.bestRtt) ? this.bestRtt : 0;
    if (!this.known) {
      this.offset = bound;
      this.known = true;
      return;
    }
    if (this.offset < bound) {
      // Behind the server: a much later frame means the local clock jumped back and the
      // samples are stale.
      if (bound - this.offset > Math.max(1000, 2 * rtt)) {
        this.samples = [];
        this.bestRtt = Infinity;
      }
      this.offset = bound;
    } else if (this.offset - bound > Math.max(2000, 2 * rtt + 1000)) {
      // The frames say our estimate runs well ahead: the local clock jumped forward (or
      // these frames were late). Three in a row: start over from the latest.
      this.ahead += 1;
      if (this.ahead >= 3) {
        this.samples = [];
        this.bestRtt = Infinity;
        this.offset = bound;
        this.ahead = 0;
      }
      return;
    }
    this.ahead = 0;
  }

  // An HTTP answer carrying `server_time`, requested at `sent`, received at `received`.
  http(serverMs, sent, received) {
    if (this.samples.length) {
      this.observe(serverMs, received);
      return;
    }
    if (!Number.isFinite(serverMs)) return;
    this.offset = serverMs - (sent + received) / 2;
    this.known = true;
  }

  now() {
    return Date.now() + this.offset;
  }
}

// Milliseconds since the epoch of an RFC 3339 string (NaN when absent).
export function parseTime(iso) {
  return iso ? Date.parse(iso) : NaN;
}

const two = (n) => String(n).padStart(2, '0');

// "1:02:03", "4:05", "2 d 01:02:03": whole seconds, rounded up so 0 shows only at the end.
export function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return t('durationDays', { d, h: two(h), m: two(m), s: two(s) });
  if (h > 0) return t('durationHours', { h, m: two(m), s: two(s) });
  return t('durationMinutes', { m, s: two(s) });
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

// A date and time in the browser's time zone, e.g. "28 Nov 2026, 20:00".
export function formatDateTime(iso) {
  const ms = parseTime(iso);
  return Number.isFinite(ms) ? dateTimeFormat.format(new Date(ms)) : '';
}

const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

// A date and time with seconds in the browser's time zone.
export function formatFullDateTime(iso) {
  const ms = parseTime(iso);
  return Number.isFinite(ms) ? fullFormat.format(new Date(ms)) : '';
}

// A time of day in the browser's time zone, HH:MM:SS.
export function formatClockTime(iso) {
  const ms = parseTime(iso);
  return Number.isFinite(ms) ? timeFormat.format(new Date(ms)) : '';
}
