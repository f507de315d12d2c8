// Charts as data: a Vega-Lite spec compiled by vega-lite, rendered to SVG by
// vega's headless view (no canvas, no browser, no network: the data is
// inline), and rasterised to PNG by sharp. Nothing here draws by hand.
// The libraries load on first use, so commands that draw nothing stay fast.
import type { TopLevelSpec } from 'vega-lite';

export type ChartSpec = TopLevelSpec;

/** Looks shared by every chart: a white background and a readable font size. */
const CONFIG = {
  background: 'white',
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14 },
} as const;

/** The spec's SVG (its own config laid over the shared one). */
export async function chartSvg(spec: ChartSpec): Promise<string> {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const withConfig = { ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as ChartSpec;
  const compiled = vl.compile(withConfig).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The spec as PNG bytes; `scale` 2 (default) draws at twice the SVG's pixel size, for sharp text. */
export async function chartPng(spec: ChartSpec, scale = 2): Promise<Buffer> {
  const svg = await chartSvg(spec);
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(svg), { density: 72 * scale })
    .png()
    .toBuffer();
}
