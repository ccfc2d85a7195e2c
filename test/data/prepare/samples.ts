/** face-api's six demo group photos, the fixtures of the face preparation tests and bench. */
import { createRequire } from 'node:module';
import path from 'node:path';

const DEMO = path.join(path.dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')), 'demo');
export const SAMPLES = [1, 2, 3, 4, 5, 6].map((i) => path.join(DEMO, `sample${i}.jpg`));
