// What the student's views share: one server clock for the session, and errors as text.

import { ServerClock } from './clock.js';
import { t } from './strings.js';

// The server's clock, shared by the views: the list's countdowns use what the contest page
// learnt. Its offset survives reloads of the tab (sessionStorage).
const OFFSET_KEY = 'contestd.clockOffset';

export const sessionClock = new ServerClock();

const saved = Number(sessionStorage.getItem(OFFSET_KEY));
if (sessionStorage.getItem(OFFSET_KEY) !== null && Number.isFinite(saved)) {
  sessionClock.offset = saved;
}

export function rememberClock() {
  if (sessionClock.known) sessionStorage.setItem(OFFSET_KEY, String(Math.round(sessionClock.offset)));
}

// A refusal as a sentence for the student.
export function errorText(err) {
  if (!err) return t('genericError', { message: '?' });
  switch (err.code) {
    case 'network':
      return t('networkError');
    case 'unavailable':
    case 'rate_limited':
      return t('unavailable');
    case 'not_found':
      return t('notFound');
    case 'not_enrolled':
      return t('notEnrolled');
    case 'forbidden':
      return t('forbidden');
    default:
      return t('genericError', { message: err.message || String(err) });
  }
}

export function statusLabel(status) {
  return t({ upcoming: 'statusUpcoming', open: 'statusOpen', closed: 'statusClosed' }[status] || status);
}
