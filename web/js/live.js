// The contest's live socket (API.md "Live timer"): frames to the page, the server's clock
// estimated from the time echo, and reconnection with exponential backoff and full jitter.
//
// openLive(contestId, { onFrame(frame), onStatus(status) }) → { close(), serverNow(), clock }
// status is 'live' while frames arrive, 'reconnecting' otherwise.

import { getToken } from './api.js';
import { ServerClock, parseTime } from './clock.js';

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30000;
// The server sends a state frame every second; this long without one means the socket is dead.
const SILENCE_MS = 6000;
// Time probes: a few at each connect (the best round trip wins), then one now and then. The
// server answers at most 10 in any 10 s.
const PROBES_AT_CONNECT = 4;
const PROBE_SPACING_MS = 400;
const PROBE_EVERY_MS = 60000;

// Full jitter: a random wait between 0 and min(cap, base · 2^attempt).
export function backoffDelay(attempt) {
  return Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

export function openLive(contestId, { onFrame, onStatus, clock = new ServerClock() } = {}) {
  let ws = null;
  let attempt = 0;
  let closed = false;
  let status = null;
  let reconnectTimer = null;
  let silenceTimer = null;
  let probeTimers = [];

  const setStatus = (next) => {
    if (next === status) return;
    status = next;
    if (onStatus) onStatus(next);
  };

  const clearTimers = () => {
    clearTimeout(silenceTimer);
    probeTimers.forEach(clearTimeout);
    probeTimers = [];
  };

  const probe = () => {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'time', client_time: Date.now() }));
    }
  };

  const armSilence = () => {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => {
      // No frame for a while: drop this socket and start over.
      if (ws) ws.close();
      lost();
    }, SILENCE_MS);
  };

  const lost = () => {
    clearTimers();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      ws = null;
    }
    if (closed) return;
    setStatus('reconnecting');
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, backoffDelay(attempt));
    attempt += 1;
  };

  function connect() {
    clearTimeout(reconnectTimer);
    if (closed) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = encodeURIComponent(getToken() || '');
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/ws/contests/${contestId}?token=${token}`);
    } catch {
      lost();
      return;
    }
    ws = socket;
    socket.onopen = () => {
      armSilence();
      for (let i = 0; i < PROBES_AT_CONNECT; i++) {
        probeTimers.push(setTimeout(probe, i * PROBE_SPACING_MS));
      }
      probeTimers.push(setInterval(probe, PROBE_EVERY_MS));
    };
    socket.onmessage = (event) => {
      const received = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame !== 'object') return;
      armSilence();
      // A frame arrived: the connection works, so the next loss starts the backoff over.
      attempt = 0;
      setStatus('live');
      if (frame.type === 'time') {
        clock.sample(Number(frame.client_time), parseTime(frame.server_time), received);
        return;
      }
      clock.observe(parseTime(frame.server_time), received);
      if (onFrame) onFrame(frame);
    };
    socket.onclose = () => lost();
    socket.onerror = () => {
      /* onclose follows */
    };
  }

  // Back online, or the tab shown again after a long sleep: try at once instead of waiting.
  const nudge = () => {
    if (!closed && !ws) connect();
  };
  window.addEventListener('online', nudge);
  document.addEventListener('visibilitychange', nudge);

  setStatus('reconnecting');
  connect();

  return {
    clock,
    serverNow: () => clock.now(),
    close() {
      closed = true;
      clearTimeout(reconnectTimer);
      window.removeEventListener('online', nudge);
      document.removeEventListener('visibilitychange', nudge);
      const socket = ws;
      lost();
      if (socket) socket.close();
    },
  };
}
