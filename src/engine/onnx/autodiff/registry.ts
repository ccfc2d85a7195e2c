/** Every op the differentiator accepts, by ONNX op type: its shape inference and gradient rule. */
import { activationRules } from './activation.js';
import { convRules } from './conv.js';
import { elementwiseRules } from './elementwise.js';
import { layoutRules } from './layout.js';
import { linearRules } from './linear.js';
import { normalizationRules } from './normalization.js';
import { poolRules } from './pool.js';
import { reduceRules } from './reduce.js';
import { resizeRules } from './resize.js';
import type { OpRule } from './rule.js';

export const OP_RULES: Readonly<Record<string, OpRule>> = {
  ...elementwiseRules,
  ...activationRules,
  ...convRules,
  ...linearRules,
  ...normalizationRules,
  ...poolRules,
  ...reduceRules,
  ...layoutRules,
  ...resizeRules,
};
