/** Image I/O (PNG / JPEG / WebP via sharp, raw `.f32`), bilinear resizing and tensor conversions. */
export { CHANNELS, checkImage, toUint8, type RgbImage } from './types.js';
export { decodeImage, readImageHeader, encodePng, encodeJpeg, ImageDecodeError, SUPPORTED_FORMATS, type DecodeOptions, type ImageHeader } from './codec.js';
export { resizeBilinear } from './resize.js';
export { imageToTensor, imagesToBatch, tensorToImage } from './tensor.js';
export { readF32, writeF32, f32Bytes } from './f32.js';
export { ByteBudget, decodeBytes, decodeMemory, DEFAULT_MAX_PIXELS } from './budget.js';
