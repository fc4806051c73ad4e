// The report's charts, drawn by Chart.js (Debian's libjs-chart.js, inlined
// in the page) from the chart specs of the page data (launcher/chart_spec.h):
// line charts with axes, a legend (click hides a series), a hover read-out,
// drag-to-zoom on x (double-click or "reset zoom" undoes it), an optional
// log-scale toggle and TensorBoard's smoothing slider; horizontal bar charts.
'use strict';
const UdaCharts = (() => {
  const kLineHeight = { normal: 320, small: 200 };
  const kBarRow = 22;

  // TensorBoard's smoothing: an exponential moving average, debiased as
  // Adam's moments are (the first values are not pulled towards 0). Gaps
  // (null) stay gaps and do not enter the average.
  function smooth(points, weight) {
    let last = 0;
    let n = 0;
    return points.map(([x, y]) => {
      if (y === null || !Number.isFinite(y)) return { x, y: null };
      last = last * weight + (1 - weight) * y;
      n += 1;
      return { x, y: last / (1 - Math.pow(weight, n)) };
    });
  }

  function format(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
    return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(5));
  }

  // "#rrggbb" with an alpha channel: the raw curve under a smoothed one.
  function faded(colour) {
    return colour + '40';
  }

  // One dataset per series; with smoothing, the smoothed curve plus the raw
  // one, faded, left out of the legend and the read-out.
  function lineDatasets(spec, weight) {
    const out = [];
    spec.series.forEach((s, i) => {
      const raw = s.points.map(([x, y]) => ({ x, y }));
      const base = {
        label: s.label,
        series: i,
        borderColor: s.colour,
        backgroundColor: s.colour,
        borderDash: s.dash ? [6, 3] : [],
        borderWidth: 1.5,
        pointRadius: raw.length > 30 ? 0 : 2.5,
        spanGaps: false,
      };
      if (spec.smooth && weight > 0) {
        out.push({ ...base, data: smooth(s.points, weight) });
        out.push({ ...base, raw: true, data: raw, pointRadius: 0, borderColor: faded(s.colour) });
      } else {
        out.push({ ...base, data: raw });
      }
    });
    return out;
  }

  // A legend click hides or shows a series with its raw twin.
  function toggleSeries(e, item, legend) {
    const chart = legend.chart;
    const series = chart.data.datasets[item.datasetIndex].series;
    const show = !chart.isDatasetVisible(item.datasetIndex);
    chart.data.datasets.forEach((d, j) => {
      if (d.series === series) chart.setDatasetVisibility(j, show);
    });
    chart.update('none');
  }

  function lineOptions(spec, state) {
    const zoom = state.zoom[spec.id];
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: {
        legend: {
          display: spec.legend !== false,
          onClick: toggleSeries,
          labels: { filter: (item, data) => !data.datasets[item.datasetIndex].raw, boxHeight: 2 },
        },
        tooltip: {
          filter: (item) => !item.dataset.raw,
          callbacks: {
            title: (items) => (items.length ? `${spec.x_label} ${format(items[0].parsed.x)}` : ''),
            label: (item) => `${item.dataset.label}: ${format(item.parsed.y)}${spec.unit || ''}`,
          },
        },
      },
      scales: {
        x: {
          type: 'linear',
          min: zoom ? zoom[0] : undefined,
          max: zoom ? zoom[1] : undefined,
          title: { display: true, text: spec.x_label },
        },
        y: {
          type: state.log[spec.id] ? 'logarithmic' : 'linear',
          min: spec.y_min,
          max: spec.y_max,
          title: { display: true, text: spec.y_label },
          ticks: { callback: (v) => format(v) },
        },
      },
    };
  }

  // Drag across the plot to zoom the x axis to that range; double-click to
  // zoom out again. `onZoom` gets [min, max] or null.
  function enableDragZoom(chart, onZoom) {
    const canvas = chart.canvas;
    const box = document.createElement('div');
    box.className = 'zoom-box';
    box.hidden = true;
    canvas.parentNode.appendChild(box);
    const xOf = (e) => e.clientX - canvas.getBoundingClientRect().left;
    let start = null;
    canvas.addEventListener('mousedown', (e) => {
      if (e.button === 0) start = xOf(e);
    });
    canvas.addEventListener('mousemove', (e) => {
      if (start === null) return;
      const a = Math.min(start, xOf(e));
      const area = chart.chartArea;
      Object.assign(box.style, {
        left: `${a}px`,
        width: `${Math.abs(xOf(e) - start)}px`,
        top: `${area.top}px`,
        height: `${area.bottom - area.top}px`,
      });
      box.hidden = false;
    });
    window.addEventListener('mouseup', (e) => {
      if (start === null) return;
      const a = Math.min(start, xOf(e));
      const b = Math.max(start, xOf(e));
      start = null;
      box.hidden = true;
      if (b - a >= 5) onZoom([chart.scales.x.getValueForPixel(a), chart.scales.x.getValueForPixel(b)]);
    });
    canvas.addEventListener('dblclick', () => onZoom(null));
  }

  function control(parent, html) {
    const label = document.createElement('label');
    label.innerHTML = html;
    parent.appendChild(label);
    return label.firstElementChild;
  }

  // The chart's controls (log scale, reset zoom) above its canvas.
  function lineControls(host, spec, chart, state, onChange) {
    const bar = document.createElement('div');
    bar.className = 'chart-controls';
    host.prepend(bar);
    const setZoom = (range) => {
      state.zoom[spec.id] = range;
      chart.options.scales.x.min = range ? range[0] : undefined;
      chart.options.scales.x.max = range ? range[1] : undefined;
      chart.update('none');
      onChange();
    };
    if (spec.log) {
      const box = control(bar, '<input type="checkbox"> log scale');
      box.checked = !!state.log[spec.id];
      box.addEventListener('change', () => {
        state.log[spec.id] = box.checked;
        chart.options.scales.y.type = box.checked ? 'logarithmic' : 'linear';
        chart.update('none');
        onChange();
      });
    }
    const reset = control(bar, '<button type="button">reset zoom</button>');
    reset.addEventListener('click', () => setZoom(null));
    bar.appendChild(Object.assign(document.createElement('span'), {
      className: 'hint',
      textContent: 'drag across the chart to zoom in, double-click to zoom out',
    }));
    enableDragZoom(chart, setZoom);
  }

  function canvasIn(host, height) {
    const box = document.createElement('div');
    box.className = 'canvas-box';
    box.style.height = `${height}px`;
    const canvas = document.createElement('canvas');
    box.appendChild(canvas);
    host.appendChild(box);
    return canvas;
  }

  function lineChart(host, spec, state, onChange) {
    const canvas = canvasIn(host, kLineHeight[spec.size || 'normal']);
    const chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: lineDatasets(spec, state.smoothing) },
      options: lineOptions(spec, state),
    });
    lineControls(host, spec, chart, state, onChange);
    return { spec, chart };
  }

  function barChart(host, spec) {
    const canvas = canvasIn(host, kBarRow * spec.labels.length + 60);
    const chart = new Chart(canvas, {
      type: 'bar',
      data: { labels: spec.labels, datasets: [{ label: spec.x_label, data: spec.values, backgroundColor: spec.colour }] },
      options: {
        indexAxis: 'y',
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (item) => `${format(item.raw)}${spec.unit || ''}` } },
        },
        scales: {
          x: { min: 0, max: spec.x_max, title: { display: true, text: spec.x_label } },
          y: { ticks: { autoSkip: false } },
        },
      },
    });
    return { spec, chart };
  }

  // One slider for every smoothed chart, as TensorBoard has.
  function smoothingSlider(host, charts, state, onChange) {
    const input = control(host, 'Smoothing <input type="range" min="0" max="0.99" step="0.01"> <output></output>');
    const output = host.querySelector('output');
    input.value = state.smoothing;
    output.textContent = Number(input.value).toFixed(2);
    input.addEventListener('input', () => {
      state.smoothing = Number(input.value);
      output.textContent = state.smoothing.toFixed(2);
      for (const { spec, chart } of charts) {
        if (spec.type !== 'line' || !spec.smooth) continue;
        chart.data.datasets = lineDatasets(spec, state.smoothing);
        chart.update('none');
      }
      onChange();
    });
  }

  // Draws every spec into its placeholder, the element #chart-<id>.
  function render(specs, state, onChange) {
    const charts = [];
    for (const spec of specs) {
      const host = document.getElementById(`chart-${spec.id}`);
      if (!host) {
        UdaChecks.record(`no placeholder for chart ${spec.id}`);
        continue;
      }
      charts.push(spec.type === 'bar' ? barChart(host, spec) : lineChart(host, spec, state, onChange));
    }
    const toolbar = document.getElementById('uda-toolbar');
    if (toolbar && specs.some((s) => s.smooth)) smoothingSlider(toolbar, charts, state, onChange);
    return charts;
  }

  return { render };
})();
