/**
 * A fused conv (+bias, optional ReLU) whose filter and bias are constants: its gradient is computed for the
 * input only. tf.fused.conv2d's gradient always computes the filter gradient as well, which doubles the
 * backward cost of an attack on a frozen network for nothing.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface FrozenConvParams {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  strides: number;
  pad: 'same' | 'valid';
  relu: boolean;
}

export function frozenConv2d(x: tf.Tensor4D, p: FrozenConvParams): tf.Tensor4D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xin = args[0] as tf.Tensor4D;
    const save = args[1] as tf.GradSaveFunc;
    const y = tf.fused.conv2d({ x: xin, filter: p.filter, bias: p.bias, strides: p.strides, pad: p.pad, activation: p.relu ? 'relu' : 'linear' });
    save(p.relu ? [y] : []);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dyPre = p.relu ? tf.mul(dy, tf.step(saved[0])) : dy;
        return tf.conv2dTranspose(dyPre as tf.Tensor4D, p.filter, xin.shape, p.strides, p.pad);
      },
    };
  });
  return op(x) as tf.Tensor4D;
}
