// The submissions-per-second chart: a bar per 2-second sample, drawn on a canvas by the page.
import { ta } from './admin-strings.js';

export function drawRateChart(canvas, samples, { capacity = 60 } = {}) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
  const axis = dark ? '#9aa4b2' : '#5b6472';
  const bar = dark ? '#6cb4ff' : '#1a5fb4';
  const pad = { left: 36, right: 6, top: 8, bottom: 16 };
  const plotW = Math.max(1, width - pad.left - pad.right);
  const plotH = Math.max(1, height - pad.top - pad.bottom);
  const peak = Math.max(1, ...samples);
  const top = niceCeil(peak);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = axis;
  ctx.strokeStyle = axis;
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const f of [0, 0.5, 1]) {
    const y = pad.top + plotH * (1 - f);
    ctx.globalAlpha = f === 0 ? 1 : 0.3;
    ctx.beginPath();
    ctx.moveTo(pad.left, Math.round(y) + 0.5);
    ctx.lineTo(width - pad.right, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.fillText(formatTick(top * f), pad.left - 4, y);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText(ta('chart.start'), pad.left, height - 3);
  ctx.textAlign = 'right';
  ctx.fillText(ta('chart.now'), width - pad.right, height - 3);
  const slot = plotW / capacity;
  const shown = samples.slice(-capacity);
  ctx.fillStyle = bar;
  shown.forEach((value, i) => {
    const h = (value / top) * plotH;
    const x = pad.left + (capacity - shown.length + i) * slot;
    ctx.fillRect(x + 1, pad.top + plotH - h, Math.max(1, slot - 2), h);
  });
}

function niceCeil(x) {
  const exp = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 5, 10]) if (x <= m * exp) return m * exp;
  return 10 * exp;
}

function formatTick(v) {
  return v >= 10 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}
