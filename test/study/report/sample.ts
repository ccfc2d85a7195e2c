/** A small report shaped like the study's (a classification report, a face figure, curves, a front) for the renderer tests. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, type RgbImage } from '../../../src/image/index.js';
import { imageGrid, linePlot, pipelineStrip, scatterPlot, type ReportDocument } from '../../../src/study/report/index.js';

const FACES14 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/data/faces14');

export const FACE = path.join(FACES14, 'Hugh_Laurie/000.png');

/** Text that breaks HTML and Markdown if a renderer forgets to escape it. */
export const HOSTILE = `<script>alert("x")</script> & 'quotes' | pipes | *stars* _under_ [link](http://example.com) # 1. <b>bold</b>`;

/** The face with a ±eps sign pattern added (deterministic), standing in for a PGD perturbation. */
export function perturbed(img: RgbImage, eps: number): RgbImage {
  const data = new Float32Array(img.data.length);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = Math.min(255, Math.max(0, img.data[i] + (state & 0x10000 ? eps : -eps)));
  }
  return { data, height: img.height, width: img.width };
}

/** Title and axes of the pipeline-search scatter. */
export const SEARCH_AXES = { title: 'Pipeline search', xLabel: 'clean accuracy', yLabel: 'adversarial accuracy' };

export const IDENTITIES = ['Drew_Barrymore', 'Gwyneth_Paltrow', 'Halle_Berry', 'Hugh_Laurie'];

/** Table rows in the shape of sklearn's classification report. */
export function reportRows(): (string | number)[][] {
  const rows: (string | number)[][] = IDENTITIES.map((name, i) => [name, 0.8 + i * 0.05, 1 - i * 0.04, (0.9 + i * 0.01).toFixed(2), 7]);
  rows.push(['accuracy', '', '', '0.91', 28], ['macro avg', 0.9, 0.91, '0.90', 28]);
  return rows;
}

export async function sampleDocument(): Promise<ReportDocument> {
  const face = await decodeImage(FACE);
  const epsilons = [0, 1, 2, 4, 8, 16];
  const fig1 = await imageGrid({
    title: 'PGD, increasing eps',
    columns: 6,
    scale: 1,
    cells: epsilons.map((eps, i) => ({
      image: perturbed(face, eps),
      caption: [`eps = ${eps}`, i < 3 ? 'Hugh_Laurie (0.97)' : 'Halle_Berry (0.81)'],
      frame: i < 3 ? 'good' : 'bad',
    })),
  });
  const strip = await pipelineStrip({
    title: 'median:3 → jpeg:20',
    stages: [
      { label: 'adversarial\neps = 4', image: perturbed(face, 4) },
      { label: 'median 3×3', image: perturbed(face, 1) },
      { label: 'JPEG q=20', image: face },
    ],
  });
  const eps = [0, 1, 2, 4, 8, 16];
  const curves = linePlot({
    title: 'Accuracy under PGD vs eps',
    xLabel: 'eps (0–255 scale)',
    yLabel: 'accuracy',
    xScale: 'categorical',
    yRange: [0, 1],
    series: ['none', 'jpeg:20', 'median:3,jpeg:20', 'gauss:15 & <tvm>'].map((name, k) => ({
      name,
      points: eps.map((e, i) => [e, Math.max(0, 1 - (i * (4 - k)) / 20)] as [number, number]),
    })),
  });
  const front = scatterPlot({
    ...SEARCH_AXES,
    points: [
      { x: 0.99, y: 0.02, label: 'none', highlight: true },
      { x: 0.95, y: 0.6 },
      { x: 0.97, y: 0.55, label: 'jpeg:40', highlight: true },
      { x: 0.9, y: 0.71, label: 'median:3,jpeg:20', highlight: true },
      { x: 0.88, y: 0.5 },
    ],
    front: [
      [0.99, 0.02],
      [0.97, 0.55],
      [0.9, 0.71],
    ],
  });
  return {
    title: 'Robustness study',
    subtitle: `faces14, ${IDENTITIES.length} identities`,
    sections: [
      {
        id: 'intro',
        heading: 'Set-up',
        blocks: [
          { kind: 'paragraph', text: `Pipelines such as \`median:3,jpeg:20\` go in front of the model. ${HOSTILE}` },
          { kind: 'list', items: ['PGD: eps 4, eps_step 0.1, 100 iterations', HOSTILE] },
          { kind: 'code', language: 'sh', text: 'npx robustify study --data DIR --out OUT\n# ```fences``` inside' },
        ],
      },
      {
        id: 'tables',
        heading: 'Classification reports',
        blocks: [
          {
            kind: 'table',
            id: 'table2',
            caption: 'Table 2. No defence, clean test set',
            columns: ['', 'precision', 'recall', 'f1-score', 'support'],
            rows: reportRows(),
            preformatted: '              precision    recall  f1-score   support\n\n    accuracy                           0.91        28\n',
          },
          { kind: 'table', id: 'hostile', caption: HOSTILE, columns: ['pipeline', HOSTILE], rows: [['`a|b`', HOSTILE]] },
        ],
      },
      {
        id: 'figures',
        heading: 'Figures',
        blocks: [
          { kind: 'figure', id: 'fig1', caption: 'Figure 1. One face under PGD at increasing eps.', alt: 'six copies of one face', png: fig1, file: 'figures/fig1.png' },
          { kind: 'figure', id: 'fig6', caption: 'Figure 6. The pipeline stage by stage.', alt: 'three stages of a pipeline', png: strip, file: 'figures/fig6.png' },
          { kind: 'plot', id: 'curve-eps', caption: 'Accuracy vs eps, one line per pipeline.', svg: curves, file: 'figures/accuracy-vs-eps.svg' },
          { kind: 'plot', id: 'front', caption: 'Clean vs adversarial accuracy of the searched pipelines.', svg: front, file: 'figures/front.svg' },
        ],
      },
    ],
  };
}
