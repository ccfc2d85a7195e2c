/**
 * What the study's report says: the run's results, figures and timings as one report document (rendered to
 * report.html and report.md by ./report). Pipelines are shown in their short form (`jpeg:20`); results.json
 * keeps the canonical one.
 */
import { formatPipelineShort, parsePipeline } from '../defences/index.js';
import { imageGrid, linePlot, pipelineStrip, scatterPlot, type Block, type ReportDocument, type Section, type TableBlock } from './report/index.js';
import type { CurveData, FigureCell, StudyRun, TableResult } from './run.js';
import { paperLayout, reportRows, REPORT_COLUMNS } from './tables.js';

const short = (p: string): string => formatPipelineShort(parsePipeline(p));
const code = (p: string): string => `\`${short(p)}\``;
const acc = (x: number): string => x.toFixed(4);
const SET_NAMES = { test: 'all test images', correct: 'correctly classified test images', pgd: 'their PGD versions' } as const;

export async function studyDocument(run: StudyRun): Promise<ReportDocument> {
  const { results: r, figures, timings } = run;
  const c = r.config;
  const table2 = r.tables[0];
  const best = r.search.ranking[0];
  const adaptiveBest = r.adaptive.rows.find((x) => x.pipeline === r.search.best);
  const summary: Section = {
    id: 'summary',
    heading: 'Summary',
    blocks: [
      {
        kind: 'paragraph',
        text:
          `${r.data.identities.length} identities, ${r.data.train_images} training and ${r.data.test_images} test faces. The head on the frozen backbone classifies ` +
          `${acc(table2.accuracy)} of the test faces (Table 2); ${r.data.dropped.length} misclassified face${r.data.dropped.length === 1 ? ' is' : 's are'} dropped before attacking, as in the paper. ` +
          `PGD (L${c.attack.norm === 'inf' ? '∞' : '2'}, eps ${c.attack.eps}, eps_step ${c.attack.eps_step}, ${c.attack.max_iter} iterations) leaves ${acc(r.attack.accuracy)} of the ` +
          `${r.data.attacked_images} attacked faces correctly classified (Table 3; max |δ|∞ ${r.attack.max_linf.toFixed(4)}).`,
      },
      {
        kind: 'paragraph',
        text:
          `The search over ${r.search.evaluated - 1} ordered pipelines (up to ${c.search.max_length} stages of ${c.search.candidates.map(code).join(', ')}) ranks ` +
          (best
            ? `${code(best.pipeline)} first: ${acc(best.adversarial_accuracy)} on the PGD faces at ${acc(best.clean_accuracy)} on clean ones (bound ${c.search.min_clean_accuracy}).`
            : `no pipeline above the clean-accuracy bound ${c.search.min_clean_accuracy}.`) +
          (adaptiveBest
            ? ` Against an adaptive attacker who knows it (BPDA PGD, eps ${r.adaptive.params.eps}, ${r.adaptive.params.max_iter} iterations, first ${adaptiveBest.samples} faces) it keeps ${acc(adaptiveBest.adaptive_accuracy)} (oblivious: ${acc(adaptiveBest.oblivious_accuracy)}).`
            : ''),
      },
      {
        kind: 'table',
        id: 'paper-comparison',
        caption: 'Accuracy of each paper table, ours against the paper (its model and data: CelebA, VGG-Face)',
        columns: ['Table', 'Pipeline', 'Images', 'Ours', 'Paper'],
        rows: r.tables.map((t) => [t.id.replace('table', 'Table '), code(t.pipeline), `${t.samples} (${t.set === 'test' ? 'test' : t.set === 'correct' ? 'clean' : 'PGD'})`, acc(t.accuracy), acc(t.paper_accuracy)]),
      },
    ],
  };

  const tables: Section = {
    id: 'tables',
    heading: "The paper's tables",
    blocks: r.tables.map(paperTableBlock),
  };

  const defences: Section = {
    id: 'defences',
    heading: 'Each defence and the paper\'s pipelines',
    blocks: [
      { kind: 'paragraph', text: `Oblivious setting: the PGD faces were made against the bare model. Clean accuracy is on the ${r.data.attacked_images} correctly classified test faces (so the bare model scores 1). \`tvm\` is ART's TotalVarMin as ART runs it (L-BFGS-B, max_iter iterations: \`solver=lbfgs\`, the paper's defence); \`tvm:solver=pdhg\` is our primal–dual solver of the same objective, which goes much further towards its minimum: a stronger smoothing.` },
      {
        kind: 'table',
        id: 'defence-table',
        caption: 'Accuracy behind each single defence and pipeline',
        columns: ['Pipeline', 'Kind', 'Clean', `PGD eps ${c.attack.eps}`],
        rows: r.defences.map((d) => [code(d.pipeline), d.kind, acc(d.clean_accuracy), acc(d.adversarial_accuracy)]),
      },
    ],
  };

  const figureBlocks: Block[] = [
    await gridFigure('fig1', 'Fig. 1. One face under PGD of growing eps (prediction under each; green: still correct)', figures.attackStrengths, figures.attackStrengths.length),
  ];
  for (const [i, f] of figures.defences.entries()) {
    figureBlocks.push(await gridFigure(f.id, `Fig. ${i + 2}. ${f.title}: a clean face (top) and its PGD version (bottom)`, f.cells, f.columns, ['clean', 'PGD']));
  }
  for (const [i, f] of figures.pipelines.entries()) {
    const png = await pipelineStrip({ title: short(f.pipeline), stages: f.stages.map((s) => ({ label: s.caption.join('\n'), image: s.image })) });
    figureBlocks.push({ kind: 'figure', id: f.id, caption: `Fig. ${i + 6}. ${f.title}, stage by stage on the PGD face: ${code(f.pipeline)}`, png, alt: `${f.title}: ${short(f.pipeline)}`, file: `figures/${f.id}.png` });
  }

  const curves: Section = {
    id: 'curves',
    heading: 'Robustness curves',
    blocks: [
      { kind: 'paragraph', text: `Oblivious PGD made against the bare model, evaluated behind each pipeline. Accuracy vs eps at ${c.attack.max_iter} iterations, and vs iterations at eps ${c.attack.eps}.` },
      curvePlot('curve-eps', 'Accuracy vs eps', 'eps (0–255 scale, L∞)', r.curves.eps, 'categorical'),
      curveTable('curve-eps-data', 'Accuracy vs eps (data)', 'eps', r.curves.eps),
      curvePlot('curve-iterations', 'Accuracy vs PGD iterations', 'PGD iterations', r.curves.iterations, 'categorical'),
      curveTable('curve-iterations-data', 'Accuracy vs PGD iterations (data)', 'iterations', r.curves.iterations),
    ],
  };

  const search: Section = {
    id: 'search',
    heading: 'Pipeline search',
    blocks: [
      { kind: 'paragraph', text: `The bare model and ${r.search.evaluated - 1} ordered pipelines of distinct stages, ranked by PGD accuracy among those keeping clean accuracy ≥ ${c.search.min_clean_accuracy}.` },
      searchTable('search-ranking', `The ${r.search.ranking.length} best pipelines`, r.search.ranking),
      searchTable('search-pareto', 'The clean-vs-PGD Pareto front', r.search.pareto),
      {
        kind: 'plot',
        id: 'search-plot',
        caption: 'Every searched pipeline: clean vs PGD accuracy, the Pareto front as a staircase',
        svg: scatterPlot({
          title: 'Pipeline search',
          xLabel: 'clean accuracy',
          yLabel: `PGD eps ${c.attack.eps} accuracy`,
          points: r.search.all.map((s) => ({ x: s.clean_accuracy, y: s.adversarial_accuracy, highlight: r.search.pareto.some((p) => p.pipeline === s.pipeline), label: r.search.pareto.some((p) => p.pipeline === s.pipeline) ? short(s.pipeline) : undefined })),
          front: r.search.pareto.map((p) => [p.clean_accuracy, p.adversarial_accuracy]),
          names: { points: 'pipeline', highlight: 'Pareto front', front: 'front' },
        }),
        file: 'figures/search.svg',
      },
    ],
  };

  const adaptive: Section = {
    id: 'adaptive',
    heading: 'Adaptive attacks',
    blocks: [
      {
        kind: 'paragraph',
        text: `PGD against the defended model (pipeline then model; gradients through each stage as it declares: exact for Gaussian noise and BMCNN, identity (BPDA) for JPEG, median, TVM), eps ${r.adaptive.params.eps}, eps_step ${r.adaptive.params.eps_step}, ${r.adaptive.params.max_iter} iterations. The oblivious column is the same faces' PGD versions made against the bare model.`,
      },
      {
        kind: 'table',
        id: 'adaptive-table',
        caption: 'Oblivious vs adaptive accuracy behind a pipeline',
        columns: ['Pipeline', 'Images', 'Oblivious PGD', 'Adaptive PGD'],
        rows: r.adaptive.rows.map((a) => [code(a.pipeline), a.samples, acc(a.oblivious_accuracy), acc(a.adaptive_accuracy)]),
      },
    ],
  };

  const rb = r.robust;
  const maybe = (v: number | null, f: (x: number) => string) => (v === null ? '–' : f(v));
  const robust: Section = {
    id: 'robust',
    heading: 'Robust accuracy, worst case over the suite',
    blocks: !rb.rows.length ? [{ kind: 'paragraph', text: 'Not run: the configuration lists no pipeline (robust.pipelines is empty).' }] : [
      {
        kind: 'paragraph',
        text: `The adaptive section's faces, eps ${rb.eps} (L∞, 0–255). Oblivious: PGD made on the bare model. BPDA: PGD against the defended model. EOT: the same with gradients averaged over ${rb.params.eot_samples} draws of the defences (only where the forward pass is random). Square: score-based, ${rb.params.square_queries} queries. Worst case: the suite \`${rb.params.suite}\` in AutoAttack's scheme (each attack on the faces still robust). Minimum perturbation: RobFR's median smallest eps at which \`${rb.params.min_attack}\` fools (– above ${rb.params.eps_max}).`,
      },
      {
        kind: 'table',
        id: 'robust-table',
        caption: 'Accuracy under each attack and the per-sample worst case',
        columns: ['Pipeline', 'Images', 'Clean', 'Oblivious', 'BPDA', 'EOT', 'Square', 'Worst case', 'Min. perturbation (median)', 'Masking flags'],
        rows: rb.rows.map((x) => [
          code(x.pipeline),
          x.samples,
          acc(x.clean_accuracy),
          maybe(x.oblivious_accuracy, acc),
          acc(x.bpda_accuracy),
          maybe(x.eot_accuracy, acc),
          acc(x.square_accuracy),
          acc(x.worst_case_accuracy),
          maybe(x.min_perturbation_median, (v) => v.toFixed(3)),
          x.flags.join('; ') || '–',
        ]),
      },
    ],
  };

  const setup: Section = {
    id: 'setup',
    heading: 'Setup and run',
    blocks: [
      { kind: 'list', items: [`identities (K = ${r.data.identities.length}): ${r.data.identities.join(', ')}`, `dropped before attacking (misclassified): ${r.data.dropped.join(', ') || 'none'}`] },
      { kind: 'table', id: 'software', caption: 'Software', columns: ['Component', 'Version'], rows: Object.entries(r.software) },
      {
        kind: 'table',
        id: 'timings',
        caption: `Wall time of this run (seconds; ${run.cache.reused} cached steps reused, ${run.cache.computed} computed)`,
        columns: ['Step', 'Seconds'],
        rows: Object.entries(timings).map(([k, v]) => [k, v.toFixed(1)]),
      },
      { kind: 'paragraph', text: 'The exact configuration (results.json holds it too):' },
      { kind: 'code', language: 'json', text: JSON.stringify(c, null, 2) },
    ],
  };

  return {
    title: 'robustify study: preprocessing defences against PGD on a face recogniser',
    subtitle: `Pawlicki & Choraś (Entropy 2021) regenerated, with robustness curves, a pipeline search and adaptive attacks — seed ${c.seed}`,
    sections: [summary, tables, defences, { id: 'figures', heading: 'Figures', blocks: figureBlocks }, curves, search, adaptive, robust, setup],
  };
}

/** A paper table: the classification report as rows, and as the paper prints it (folded text form). */
export function paperTableBlock(t: TableResult): TableBlock {
  return {
    kind: 'table',
    id: t.id,
    caption: `${t.id.replace('table', 'Table ')}. ${t.title} — ${code(t.pipeline)} on ${t.samples} ${SET_NAMES[t.set]}`,
    columns: REPORT_COLUMNS,
    rows: reportRows(t.report),
    preformatted: paperLayout(t.report),
  };
}

async function gridFigure(id: string, caption: string, cells: FigureCell[], columns: number, rowLabels?: string[]): Promise<Block> {
  const png = await imageGrid({
    columns,
    cells: cells.map((cell) => ({ image: cell.image, caption: cell.caption, frame: cell.correct === undefined ? 'none' : cell.correct ? 'good' : 'bad' })),
    rowLabels,
  });
  return { kind: 'figure', id, caption, png, alt: caption, file: `figures/${id}.png` };
}

function curvePlot(id: string, title: string, xLabel: string, data: CurveData, xScale: 'linear' | 'categorical'): Block {
  return {
    kind: 'plot',
    id,
    caption: title,
    svg: linePlot({ title, xLabel, yLabel: 'accuracy', yRange: [0, 1], xScale, series: data.series.map((s) => ({ name: short(s.pipeline), points: data.x.map((x, i): [number, number] => [x, s.accuracy[i]]) })) }),
    file: `figures/${id}.svg`,
  };
}

function curveTable(id: string, caption: string, what: string, data: CurveData): Block {
  return { kind: 'table', id, caption, columns: ['Pipeline', ...data.x.map((x) => `${what} ${x}`)], rows: data.series.map((s) => [code(s.pipeline), ...s.accuracy.map(acc)]) };
}

function searchTable(id: string, caption: string, rows: StudyRun['results']['search']['ranking']): Block {
  return { kind: 'table', id, caption, columns: ['Pipeline', 'Stages', 'Clean', 'PGD'], rows: rows.map((s) => [code(s.pipeline), s.length, acc(s.clean_accuracy), acc(s.adversarial_accuracy)]) };
}
