/**
 * Errors about what a caller passed. The library names its own parameters (`model: no model at 'm'`); a front
 * end names them its own way (the CLI prints `--model: …`, see src/cli/flags.ts), from the same error.
 */

/** A parameter named inside an error message. */
class Param {
  constructor(readonly name: string) {}
}

/** Mark `name` as a parameter in a `ParameterError.of` message. */
export const param = (name: string): Param => new Param(name);

/** A piece of a message: text, or a parameter (`param(name)`). */
export type Part = string | Param;

function render(parts: readonly Part[], name: (param: string) => string): string {
  return parts.map((p) => (p instanceof Param ? name(p.name) : p)).join('');
}

/** An error whose message names the parameters at fault (one line, fit for the user). */
export class ParameterError extends Error {
  private readonly parts: readonly Part[];

  constructor(message: string | readonly Part[]) {
    const parts = typeof message === 'string' ? [message] : message;
    super(render(parts, (n) => n));
    this.parts = parts;
  }

  /** The parameters the message names. */
  get params(): string[] {
    return this.parts.filter((p): p is Param => p instanceof Param).map((p) => p.name);
  }

  /** The message with each parameter written as `name` writes it (e.g. as a command-line flag). */
  render(name: (param: string) => string): string {
    return render(this.parts, name);
  }

  /** A tagged template: `ParameterError.of\`${param('patch')}: expected an even number, got ${p}\``. */
  static of<E extends ParameterError>(this: new (message: readonly Part[]) => E, strings: TemplateStringsArray, ...values: unknown[]): E {
    const parts: Part[] = [];
    strings.forEach((s, i) => {
      parts.push(s);
      if (i < values.length) parts.push(values[i] instanceof Param ? (values[i] as Param) : String(values[i]));
    });
    return new this(parts);
  }
}
