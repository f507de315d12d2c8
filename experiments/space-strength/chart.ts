// Vega-Lite spec -> SVG (vega's headless view) -> PNG (sharp). One home for
// how the space-strength figures are rasterised.
import sharp from 'sharp';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** Renders a Vega-Lite spec to a PNG file (density 144 dpi: crisp at README width). */
export async function writeChartPng(spec: TopLevelSpec, file: string): Promise<void> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  await sharp(Buffer.from(svg), { density: 144 }).flatten({ background: '#ffffff' }).png().toFile(file);
}
