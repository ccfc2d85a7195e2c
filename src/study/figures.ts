/**
 * The study's figures as steps: one face under PGD of growing eps (Fig. 1), each defence's effect on the clean
 * and the attacked face (Figs 2–5), pipelines stage by stage (Figs 6–8). A figure is one row of `FIGURES`.
 */
import { formatPipeline, parsePipeline } from '../defences/index.js';
import type { StudyConfig } from './config.js';
import { step } from './graph.js';
import { imageAt, subset, type ImageSet } from './imageset.js';
import { bare, type StudyContext, type StudyOutputs, type StudyStep, type StudyTarget } from './plan.js';
import type { FigureCell, StudyFigures } from './run.js';
import { adversarialSets, linfDistances } from './steps.js';
import { roundTo } from '../util/round.js';

type DefenceFigure = StudyFigures['defences'][number];
type PipelineFigure = StudyFigures['pipelines'][number];

export type Figure = { kind: 'strengths'; cells: FigureCell[] } | ({ kind: 'defence' } & DefenceFigure) | ({ kind: 'pipeline' } & PipelineFigure);

type FigureId = `fig${number}`;

export interface FigureOutputs {
  /** The face the figures show, clean and under the paper's PGD. */
  figface: { face: ImageSet; adversarial: ImageSet };
  figures: StudyFigures;
  [figure: FigureId]: Figure;
}

type FigureSpec =
  | { id: FigureId; kind: 'strengths'; title: string }
  | { id: FigureId; kind: 'defence'; title: string; pipelines: (c: StudyConfig) => [string, string][] }
  | { id: FigureId; kind: 'pipeline'; title: string; pipeline: (c: StudyConfig) => string };


export const FIGURES: readonly FigureSpec[] = [
  { id: 'fig1', kind: 'strengths', title: 'One face under PGD of growing eps' },
  { id: 'fig2', kind: 'defence', title: 'JPEG compression', pipelines: (c) => c.figures.jpeg_qualities.map((q) => [`jpeg:${q}`, `JPEG ${q}`]) },
  { id: 'fig3', kind: 'defence', title: 'Gaussian augmentation', pipelines: (c) => c.figures.gauss_sigmas.map((s) => [`gauss:${s}`, `σ ${roundTo(s, 2)} (255/${roundTo(255 / s, 1)})`]) },
  { id: 'fig4', kind: 'defence', title: 'Spatial smoothing (median)', pipelines: () => [['median:3', 'median 3×3']] },
  { id: 'fig5', kind: 'defence', title: 'Total variation minimisation', pipelines: () => [['tvm', "TVM (ART's L-BFGS-B)"], ['tvm:solver=pdhg', 'TVM (pdhg)']] },
  { id: 'fig6', kind: 'pipeline', title: 'All the defences', pipeline: (c) => c.pipelines.table6 },
  { id: 'fig7', kind: 'pipeline', title: 'All but TVM', pipeline: (c) => c.pipelines.table7 },
  { id: 'fig8', kind: 'pipeline', title: "The paper's best pipeline", pipeline: (c) => c.pipelines.best },
];

const define = step<StudyOutputs, StudyConfig>();

/** A labelled cell: the set's (first) image after `pipeline`, captioned with the prediction. */
async function cell({ evaluator, identities }: StudyTarget, set: ImageSet, pipeline: string, caption: string): Promise<FigureCell> {
  const [pred] = await evaluator.predictions(pipeline, set);
  const shown = pipeline === 'none' ? set : await evaluator.defended(parsePipeline(pipeline), set);
  return { image: imageAt(shown, 0), caption: [caption, `→ ${identities[pred]}`], correct: pred === set.labels[0] };
}

function figureStep(ctx: StudyContext, spec: FigureSpec): StudyStep {
  const base = { id: spec.id, what: `figure ${spec.id.slice(3)}: ${spec.title}`, inputs: ['figface', 'attack', 'target'] as const };
  switch (spec.kind) {
    case 'strengths':
      return define({
        ...base,
        config: (c) => c.figures.attack_eps,
        run: async ({ figface: { face }, attack: { params }, target }) => {
          const cells: FigureCell[] = [];
          for (const eps of ctx.config.figures.attack_eps) {
            const set = eps === 0 ? face : (await adversarialSets(ctx.cache, face, { target: bare(target), params: { ...params, eps }, step: `figure 1, eps ${eps}`, runner: target.runner })).get(params.max_iter)!;
            const reached = Math.max(...linfDistances(face, set));
            cells.push(await cell(target, set, 'none', eps === 0 ? 'clean' : `eps ${eps} (|δ|∞ ${reached.toFixed(1)})`));
          }
          return { kind: 'strengths', cells };
        },
      });
    case 'defence':
      return define({
        ...base,
        config: spec.pipelines,
        run: async ({ figface: { face, adversarial }, attack: { params }, target }) => {
          const pipelines = spec.pipelines(ctx.config);
          const cells: FigureCell[] = [];
          for (const [set, label] of [[face, 'clean'], [adversarial, `PGD eps ${params.eps}`]] as const) {
            cells.push(await cell(target, set, 'none', `${label}, no defence`));
            for (const [p, name] of pipelines) cells.push(await cell(target, set, p, `${label}, ${name}`));
          }
          return { kind: 'defence', id: spec.id, title: spec.title, cells, columns: pipelines.length + 1 };
        },
      });
    case 'pipeline':
      return define({
        ...base,
        config: spec.pipeline,
        run: async ({ figface: { adversarial }, target }) => {
          const pipeline = spec.pipeline(ctx.config);
          const stages = parsePipeline(pipeline);
          const cells = [await cell(target, adversarial, 'none', 'PGD input')];
          for (let i = 1; i <= stages.length; i++) cells.push(await cell(target, adversarial, formatPipeline(stages.slice(0, i)), `+ ${stages[i - 1].name}`));
          return { kind: 'pipeline', id: spec.id, title: spec.title, pipeline, stages: cells };
        },
      });
  }
}

export function figureSteps(ctx: StudyContext): StudyStep[] {
  return [
    define({
      id: 'figface',
      inputs: ['clean', 'attack'],
      config: (c) => c.figures.face,
      run: async ({ clean: { correct }, attack: { pgd } }) => {
        const f = Math.min(ctx.config.figures.face, correct.labels.length - 1);
        return { face: subset(correct, [f], `${correct.key}-face${f}`), adversarial: subset(pgd, [f], `${pgd.key}-face${f}`) };
      },
    }),
    ...FIGURES.map((spec) => figureStep(ctx, spec)),
    define({
      id: 'figures',
      inputs: FIGURES.map((f) => f.id),
      run: async (figs) => {
        const all = FIGURES.map((f) => figs[f.id]);
        const strip = <T extends { kind: string }>({ kind: _k, ...rest }: T): Omit<T, 'kind'> => rest;
        return {
          attackStrengths: all.flatMap((f) => (f.kind === 'strengths' ? f.cells : [])),
          defences: all.flatMap((f) => (f.kind === 'defence' ? [strip(f)] : [])),
          pipelines: all.flatMap((f) => (f.kind === 'pipeline' ? [strip(f)] : [])),
        };
      },
    }),
  ];
}
