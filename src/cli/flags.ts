/**
 * Library errors name parameters (`model: no model at …`, `sigmaMin/sigmaMax: …`); the CLI reports them by
 * the flags that set them. Every option is named after its parameter, so a flag is the parameter's name in
 * kebab case (`sigmaMin` → `--sigma-min`).
 */
import { ParameterError } from '../util/errors.js';

/** The command-line flag that sets library parameter `name`. */
export function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** An error's message as the CLI prints it: parameters written as flags. */
export function cliMessage(err: unknown): string {
  if (err instanceof ParameterError) return err.render(flagOf);
  return err instanceof Error ? err.message : String(err);
}
