// Page health, for readers and for the browser test: every script error,
// unhandled rejection and console error or warning is listed in the visible
// box #uda-errors, and after drawing the page writes a verdict into
// #uda-check (how many canvases it drew, how many stayed blank, how many
// errors), which `chromium --dump-dom` shows. Loaded before every other script.
'use strict';
const UdaChecks = (() => {
  const errors = [];

  function show() {
    const box = document.getElementById('uda-errors');
    if (!box) return;
    box.hidden = false;
    box.textContent = 'Errors on this page:\n' + errors.join('\n');
  }

  function record(message) {
    errors.push(String(message));
    show();
  }

  window.addEventListener('error', (e) => record(`${e.message} (${e.filename}:${e.lineno})`));
  window.addEventListener('unhandledrejection', (e) => record(`unhandled rejection: ${e.reason}`));
  for (const level of ['error', 'warn']) {
    const original = console[level].bind(console);
    console[level] = (...args) => {
      record(`console.${level}: ${args.join(' ')}`);
      original(...args);
    };
  }

  // Painted pixels of a canvas (alpha > 0): Chart.js draws on a transparent one.
  function paintedPixels(canvas) {
    const ctx = canvas.getContext('2d');
    if (!ctx || !canvas.width || !canvas.height) return 0;
    const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < rgba.length; i += 4) n += rgba[i] > 0;
    return n;
  }

  // A canvas counts as drawn when at least 0.5 % of its pixels are painted.
  function verdict() {
    const canvases = Array.from(document.querySelectorAll('canvas'));
    const blank = canvases.filter((c) => paintedPixels(c) < 0.005 * c.width * c.height).length;
    const el = document.getElementById('uda-check');
    if (!el) return;
    el.dataset.canvases = canvases.length;
    el.dataset.blank = blank;
    el.dataset.errors = errors.length;
    el.textContent = `${canvases.length} chart(s) drawn, ${blank} blank, ${errors.length} error(s)`;
  }

  return { record, verdict };
})();
