/**
 * Models the tests use but robustify does not ship (see DEVELOPERS.md, "Test models"): fetched by
 * `npm run fetch-test-models` into $ROBUSTIFY_TEST_MODELS (default ~/.cache/robustify/test-models).
 * Missing in CI ($CI set) is a failure; elsewhere the test is skipped with a note.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

export const HUMAN_MODELS_VERSION = '3.0.4';

export function testModelsDir(): string {
  return process.env.ROBUSTIFY_TEST_MODELS ?? path.join(os.homedir(), '.cache', 'robustify', 'test-models');
}

/** MobileFaceNet's model.json, or undefined (after skipping the current test) when not fetched outside CI. */
export async function mobileFaceNetPath(): Promise<string | undefined> {
  const file = path.join(testModelsDir(), `human-models-${HUMAN_MODELS_VERSION}`, 'mobilefacenet.json');
  const present = await fs.access(file).then(
    () => true,
    () => false,
  );
  if (present) return file;
  const why = `MobileFaceNet not found at ${file}: run \`npm run fetch-test-models\``;
  if (process.env.CI) throw new Error(why);
  test.skip?.(why);
  process.stderr.write(`# skipped: ${why}\n`);
  return undefined;
}
