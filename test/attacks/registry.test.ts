import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import * as tf from '@tensorflow/tfjs-core';
import { attackNames, createAttack, describeParams, getAttack, parseAttackToken, registerAttack, resolveAttackParams, APGD_SPEC, type EvasionAttack } from '../../src/attacks/index.js';

test('every built-in attack is in the registry with a spec whose defaults validate', () => {
  assert.deepEqual(attackNames().slice(0, 6), ['pgd', 'fgsm', 'bim', 'apgd', 'apgd_t', 'square']);
  for (const name of attackNames()) {
    const e = getAttack(name);
    const a = createAttack(name);
    assert.equal(a.name, name);
    assert.deepEqual(Object.keys(a.params).sort(), Object.keys(e.spec.properties).sort().concat(name === 'fgsm' ? ['eps_step', 'max_iter'] : name === 'bim' ? ['norm', 'num_random_init'] : []).sort());
    assert.ok(describeParams(e.spec).every((l) => /default/.test(l)));
  }
});

test('parameters are validated in one place, with the attack and parameter named', () => {
  assert.throws(() => createAttack('pgd', { eps_step: 0 }), /^Error: pgd: eps_step must be a number > 0 and ≤ 255, got 0$/);
  assert.throws(() => createAttack('apgd', { loss_type: 'dlr' }), /apgd: loss_type must be 'cross_entropy' or 'difference_logits_ratio', got 'dlr'/);
  assert.throws(() => createAttack('square', { nb_queries: 2.5 }), /square: nb_queries must be a whole number in \[1, 1000000\], got 2.5/);
  assert.throws(() => createAttack('fgsm', { max_iter: 3 }), /fgsm: unknown parameter 'max_iter' \(valid: norm, eps, targeted/);
  assert.throws(() => createAttack('apgd', { norm: 1 }), /apgd: norm must be 'inf' or 2, got 1/);
  assert.deepEqual(resolveAttackParams('apgd', APGD_SPEC, { max_iter: 5 }).max_iter, 5);
});

test('attack tokens are typed by the spec', () => {
  assert.deepEqual(parseAttackToken('apgd:loss_type=difference_logits_ratio:max_iter=50:norm=2:targeted=true'), {
    name: 'apgd',
    params: { loss_type: 'difference_logits_ratio', max_iter: 50, norm: 2, targeted: true },
  });
  assert.throws(() => parseAttackToken('square:nb_queries=lots'), /square: nb_queries must be a whole number.*got 'lots'/);
  assert.throws(() => parseAttackToken('square:nb_queries'), /not of the form key=value/);
  assert.throws(() => parseAttackToken('cw'), /unknown attack 'cw'/);
});

test('a plugin registers with one call; names are not taken twice', async () => {
  const spec = Type.Object({ eps: Type.Number({ default: 1, minimum: 0, maximum: 255, description: 'budget' }) });
  const noop = (params: Record<string, unknown>): EvasionAttack => ({ name: 'noop', access: 'score', params, generate: async (_c, x) => tf.clone(x) });
  registerAttack({ name: 'noop', access: 'score', description: 'returns x', spec, factory: noop });
  assert.equal(createAttack('noop', { eps: 2 }).params.eps, 2);
  assert.throws(() => createAttack('noop', { eps: -1 }), /noop: eps must be a number in \[0, 255\], got -1/);
  assert.throws(() => registerAttack({ name: 'noop', access: 'score', description: '', spec, factory: noop }), /already registered/);
  assert.throws(() => registerAttack({ name: 'Bad-Name', access: 'score', description: '', spec, factory: noop }), /invalid name/);
});
