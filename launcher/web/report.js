// Draws a report page from its embedded data (#uda-data): the charts, the
// reload of a page written by `uda report --watch`, then the self-check.
'use strict';
(() => {
  const data = JSON.parse(document.getElementById('uda-data').textContent);
  const state = UdaLive.restore();
  UdaCharts.render(data.charts, state, () => UdaLive.save(state));
  UdaLive.scrollBack(state);
  window.addEventListener('pagehide', () => UdaLive.save(state));
  if (data.live) UdaLive.reloadEvery(data.live.interval_s, state);
  UdaChecks.verdict();
})();
