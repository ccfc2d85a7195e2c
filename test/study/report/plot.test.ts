import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { linePlot, niceTicks, PALETTE, scatterPlot, type LinePlotOptions } from '../../../src/study/report/index.js';
import { SEARCH_AXES } from './sample.js';

const EPS = [0, 1, 2, 4, 8, 16];

function curves(): LinePlotOptions {
  return {
    title: 'Accuracy vs eps',
    xLabel: 'eps',
    yLabel: 'accuracy',
    xScale: 'categorical',
    yRange: [0, 1],
    series: ['none', 'jpeg:20', 'median:3 & <tvm>'].map((name, k) => ({ name, points: EPS.map((e, i) => [e, 1 - (i * (3 - k)) / 20] as [number, number]) })),
  };
}

/** Decodes the SVG with librsvg (sharp): throws on malformed SVG. */
async function raster(svg: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function countColour(img: { data: Buffer; channels: number }, hex: string, tol = 24, rows?: [number, number], width = 0): number {
  const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let count = 0;
  const from = rows ? rows[0] * width * img.channels : 0;
  const to = rows ? rows[1] * width * img.channels : img.data.length;
  for (let p = from; p < to; p += img.channels) {
    if (Math.abs(img.data[p] - rgb[0]) <= tol && Math.abs(img.data[p + 1] - rgb[1]) <= tol && Math.abs(img.data[p + 2] - rgb[2]) <= tol) count++;
  }
  return count;
}

test('niceTicks: round steps, bounds rounded out (or kept when fixed), exact labels', () => {
  assert.deepEqual(niceTicks(0, 1, 6, true).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const around = niceTicks(0.02, 0.99);
  assert.deepEqual([around.lo, around.hi], [0, 1]);
  assert.deepEqual(niceTicks(0, 100).ticks, [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(0.3, 0.7).ticks, [0.3, 0.4, 0.5, 0.6, 0.7]);
  const flat = niceTicks(5, 5);
  assert.ok(flat.lo < 5 && flat.hi > 5, 'a single value gets a range around it');
});

test('linePlot: valid SVG with title, axis labels and a legend entry per series; librsvg draws text and lines', async () => {
  const svg = linePlot(curves());
  for (const text of ['Accuracy vs eps', '>eps<', '>accuracy<', '>none<', '>jpeg:20<', '>median:3 &amp; &lt;tvm&gt;<']) assert.ok(svg.includes(text), text);
  for (const e of EPS) assert.ok(svg.includes(`text-anchor="middle">${e}</text>`), `x tick ${e}`);
  for (const y of ['0.0', '0.2', '1.0']) assert.ok(svg.includes(`>${y}</text>`), `y tick ${y}`);
  assert.ok(!svg.includes(' id='), 'no ids: several plots share one HTML page');
  const img = await raster(svg);
  assert.deepEqual([img.width, img.height], [800, 480]);
  // The title band holds dark glyph pixels (fonts found), and each series colour is drawn.
  assert.ok(countColour(img, '#111111', 60, [10, 40], img.width) > 300, 'title text rendered');
  for (const colour of PALETTE.slice(0, 3)) assert.ok(countColour(img, colour) > 200, `series colour ${colour}`);
});

test('linePlot: categorical x spaces the values evenly; distinct dash per series; deterministic', () => {
  const svg = linePlot(curves());
  const cx = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].slice(0, EPS.length).map((m) => Number(m[1]));
  const steps = cx.slice(1).map((x, i) => x - cx[i]);
  for (const s of steps) assert.ok(Math.abs(s - steps[0]) < 0.02, `even spacing: ${steps.join(', ')}`);
  const dashes = [...svg.matchAll(/<path d="M[^"]+" fill="none" stroke="(#[0-9A-F]+)" stroke-width="2.2" stroke-linejoin="round"( stroke-dasharray="([^"]+)")?/g)].map((m) => `${m[1]} ${m[3] ?? ''}`);
  assert.equal(new Set(dashes).size, 3, `three distinct styles: ${dashes.join(' | ')}`);
  assert.equal(svg, linePlot(curves()));
});

test('linePlot: linear x with explicit ticks', () => {
  const svg = linePlot({ title: 'Accuracy vs iterations', xLabel: 'PGD iterations', yLabel: 'accuracy', xTicks: [0, 25, 50, 100], series: [{ name: 'none', points: [[0, 1], [25, 0.4], [100, 0.01]] }] });
  for (const t of ['0', '25', '50', '100']) assert.ok(svg.includes(`text-anchor="middle">${t}</text>`), `tick ${t}`);
});

test('linePlot and scatterPlot name the bad parameter', () => {
  const bad = curves();
  bad.series[0].points[1] = [1, Number.NaN];
  assert.throws(() => linePlot(bad), /series\[0\]\.points\[1\] y: expected a finite number/);
  assert.throws(() => linePlot({ ...curves(), series: [] }), /series is empty/);
  assert.throws(() => linePlot({ ...curves(), yRange: [1, 0] }), /yRange: \[1, 0\] is empty/);
  assert.throws(() => linePlot({ ...curves(), xTicks: [0, 1, 2] }), /x = 4 is not one of the categories/);
  assert.throws(() => linePlot({ ...curves(), width: 50 }), /width×height/);
  assert.throws(() => scatterPlot({ title: 't', xLabel: 'x', yLabel: 'y', points: [] }), /points is empty/);
  assert.throws(() => scatterPlot({ title: 't', xLabel: 'x', yLabel: 'y', points: [{ x: 0, y: Infinity }] }), /points\[0\]\.y/);
});

test('scatterPlot: grey candidates, labelled highlights, Pareto staircase, legend', async () => {
  const svg = scatterPlot({
    ...SEARCH_AXES,
    points: [
      { x: 0.99, y: 0.02, label: 'none', highlight: true },
      { x: 0.95, y: 0.6 },
      { x: 0.9, y: 0.71, label: 'median:3,jpeg:20 <best>', highlight: true },
    ],
    front: [
      [0.9, 0.71],
      [0.99, 0.02],
    ],
  });
  for (const text of ['>candidates<', '>highlighted<', '>Pareto front<', '>none<', 'median:3,jpeg:20 &lt;best&gt;']) assert.ok(svg.includes(text), text);
  // From the left front point down to the next one's height, then across to it.
  assert.match(svg, /<path d="M[\d.]+ [\d.]+V[\d.]+H[\d.]+" fill="none" stroke="#D55E00"/);
  const img = await raster(svg);
  assert.deepEqual([img.width, img.height], [800, 480]);
  assert.ok(countColour(img, PALETTE[0], 10) > 100, 'highlighted points drawn');
  assert.ok(countColour(img, PALETTE[1], 10) > 200, 'front drawn');
});
