/** A study configuration for the queue's tests: seconds of PGD in many small batches, stochastic pipelines. */
export const TINY_STUDY = {
  identities: 3,
  train: { hidden: 32, max_epochs: 1, patience: 1 },
  attack: { eps_step: 1, max_iter: 3, batch_size: 4 },
  defences: ['jpeg:20', 'gauss:15'],
  pipelines: { table6: 'median:3,jpeg:20,gauss:15', table7: 'median:3,jpeg:20', table8: 'median:3,jpeg:20', table9: 'jpeg:20,gauss:15', best: 'jpeg:20,gauss:15' },
  more_pipelines: [],
  curves: { eps: [0, 2, 4], iterations: [1, 3], pipelines: ['none', '@best'] },
  search: { candidates: ['jpeg:20', 'gauss:15'], max_length: 1, min_clean_accuracy: 0.5, top: 3 },
  adaptive: { pipelines: ['jpeg:20,gauss:15'], samples: 4, eps_step: 1, max_iter: 2 },
  robust: { suite: 'apgd:max_iter=2', eot_samples: 2, square_queries: 5, min_attack: 'pgd:max_iter=1:eps_step=1', eps_max: 8, checks: false },
  figures: { attack_eps: [0, 4], gauss_sigmas: [15], jpeg_qualities: [20] },
};

