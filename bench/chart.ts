/**
 * A small SVG scatter chart: mean lateness (log y) against GetExportTask calls per hour of export
 * (log x), one point per strategy and progress model. No dependencies.
 */

export interface ChartPoint {
  readonly strategy: string;
  readonly model: string;
  readonly callsPerHour: number;
  readonly meanLatenessSeconds: number;
}

export interface ChartSeries {
  readonly strategy: string;
  readonly label: string;
  readonly color: string;
}

export interface ChartOptions {
  readonly title: string;
  readonly series: ChartSeries[];
  /** Progress models, in legend order, with their marker shapes. */
  readonly models: Array<{ model: string; label: string; short: string }>;
  /** Points with a lateness below this are drawn on it (a log axis has no 0). */
  readonly floorSeconds: number;
  /** Shaded target region: lateness at most `maxLatenessSeconds` with at most `maxCallsPerHour`. */
  readonly target?: { maxLatenessSeconds: number; maxCallsPerHour: number; label: string };
  readonly footnote?: string;
}

const W = 1000;
const H = 600;
const PLOT = { left: 80, right: 720, top: 60, bottom: 520 };
const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross'] as const;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1 ? String(Math.round(v * 10) / 10) : String(Math.round(v * 100) / 100));

function marker(shape: (typeof SHAPES)[number], x: number, y: number, color: string): string {
  const r = 6;
  const style = `fill="${color}" fill-opacity="0.85" stroke="#222" stroke-width="0.8"`;
  switch (shape) {
    case 'circle': return `<circle cx="${x}" cy="${y}" r="${r}" ${style}/>`;
    case 'square': return `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" ${style}/>`;
    case 'triangle': return `<polygon points="${x},${y - r - 1} ${x - r - 1},${y + r} ${x + r + 1},${y + r}" ${style}/>`;
    case 'diamond': return `<polygon points="${x},${y - r - 2} ${x + r + 1},${y} ${x},${y + r + 2} ${x - r - 1},${y}" ${style}/>`;
    case 'cross': return `<path d="M${x - r},${y - r} L${x + r},${y + r} M${x - r},${y + r} L${x + r},${y - r}" stroke="${color}" stroke-width="3"/>`;
  }
}

export function renderChart(points: ChartPoint[], options: ChartOptions): string {
  const xs = points.map((p) => p.callsPerHour);
  const ys = points.map((p) => Math.max(options.floorSeconds, p.meanLatenessSeconds));
  const decade = (v: number, up: boolean) => 10 ** (up ? Math.ceil(Math.log10(v)) : Math.floor(Math.log10(v)));
  const x0 = decade(Math.min(...xs), false);
  const x1 = decade(Math.max(...xs), true);
  const y0 = decade(Math.min(...ys, options.floorSeconds), false);
  const y1 = decade(Math.max(...ys), true);
  const sx = (v: number) => PLOT.left + ((Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * (PLOT.right - PLOT.left);
  const sy = (v: number) => PLOT.bottom - ((Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * (PLOT.bottom - PLOT.top);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="28" text-anchor="middle" font-size="16" font-weight="bold">${esc(options.title)}</text>`);

  if (options.target) {
    const t = options.target;
    const tx = sx(Math.min(t.maxCallsPerHour, x1));
    const ty = sy(Math.max(t.maxLatenessSeconds, y0));
    out.push(`<rect x="${PLOT.left}" y="${ty}" width="${tx - PLOT.left}" height="${PLOT.bottom - ty}" fill="#2e7d32" fill-opacity="0.08" stroke="#2e7d32" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${PLOT.left + 6}" y="${ty - 6}" fill="#2e7d32">${esc(t.label)}</text>`);
  }

  // Grid and axes (decades, with 2 and 5 as minor lines).
  for (let d = x0; d <= x1; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > x1) break;
      const x = sx(v);
      out.push(`<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
      if (m === 1) out.push(`<text x="${x}" y="${PLOT.bottom + 18}" text-anchor="middle">${fmt(v)}</text>`);
    }
  }
  for (let d = y0; d <= y1; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > y1) break;
      const y = sy(v);
      out.push(`<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
      if (m === 1) out.push(`<text x="${PLOT.left - 8}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
    }
  }
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 42}" text-anchor="middle" font-size="13">GetExportTask calls per hour of export (log)</text>`);
  out.push(`<text transform="translate(24 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">mean lateness, seconds (log)</text>`);

  // Points. A strategy whose points coincide gets one label by the point; a strategy whose points
  // differ (the library) gets a label per model, in rows below its points, with a leader line.
  const approxWidth = (text: string) => text.length * 7;
  for (const series of options.series) {
    const mine = points.filter((p) => p.strategy === series.strategy);
    const place = (p: ChartPoint) => ({ x: sx(p.callsPerHour), y: sy(Math.max(options.floorSeconds, p.meanLatenessSeconds)) });
    const distinct = new Set(mine.map((p) => `${fmt(p.callsPerHour)}/${fmt(p.meanLatenessSeconds)}`));
    if (distinct.size > 1) {
      const lowest = Math.max(...mine.map((p) => place(p).y));
      const shortLabel = (p: ChartPoint) => options.models.find((m) => m.model === p.model)?.short ?? p.model;
      // A point well away from the cluster is labelled beside itself.
      const apart = mine.filter((p) => lowest - place(p).y > 30);
      for (const p of apart) {
        const { x, y } = place(p);
        out.push(`<text x="${x + 10}" y="${y + 4}" fill="${series.color}" font-size="11">${esc(shortLabel(p))}</text>`);
      }
      [...mine].filter((p) => !apart.includes(p)).sort((a, b) => b.callsPerHour - a.callsPerHour).forEach((p, row) => {
        const { x, y } = place(p);
        const label = shortLabel(p);
        const ly = Math.min(PLOT.bottom - 6, lowest + 22 + row * 15);
        out.push(`<line x1="${x}" y1="${y}" x2="${x}" y2="${ly - 10}" stroke="${series.color}" stroke-width="0.8" stroke-dasharray="2 2"/>`);
        out.push(`<text x="${x + 3}" y="${ly}" fill="${series.color}" font-size="11">${esc(label)}</text>`);
      });
    }
    options.models.forEach(({ model }, m) => {
      const p = mine.find((q) => q.model === model);
      if (!p) return;
      const { x, y } = place(p);
      out.push(marker(SHAPES[m % SHAPES.length], x, y, series.color));
    });
    if (distinct.size === 1 && mine.length > 0) {
      const { x, y } = place(mine[0]);
      const label = `${series.label} (every model)`;
      const right = x + 10 + approxWidth(label) > PLOT.right;
      out.push(`<text x="${right ? x - 10 : x + 10}" y="${y - 16}" text-anchor="${right ? 'end' : 'start'}" fill="${series.color}" font-weight="bold">${esc(label)}</text>`);
    }
  }

  // Legend: strategies (colour) and progress models (shape).
  let ly = PLOT.top + 4;
  out.push(`<text x="${PLOT.right + 24}" y="${ly}" font-weight="bold">Strategy (colour)</text>`);
  for (const s of options.series) {
    ly += 20;
    out.push(`<rect x="${PLOT.right + 24}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${PLOT.right + 42}" y="${ly}">${esc(s.label)}</text>`);
  }
  ly += 34;
  out.push(`<text x="${PLOT.right + 24}" y="${ly}" font-weight="bold">Progress model (shape)</text>`);
  options.models.forEach(({ label }, m) => {
    ly += 22;
    out.push(marker(SHAPES[m % SHAPES.length], PLOT.right + 30, ly - 4, '#888'));
    out.push(`<text x="${PLOT.right + 42}" y="${ly}">${esc(label)}</text>`);
  });
  if (options.footnote) {
    ly += 36;
    for (const line of options.footnote.split('\n')) {
      out.push(`<text x="${PLOT.right + 24}" y="${ly}" font-size="11" fill="#555">${esc(line)}</text>`);
      ly += 15;
    }
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
