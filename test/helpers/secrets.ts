/**
 * Checks that no secret, nor any run of 8 or more of its characters, appears in a text: how every
 * suite asserts that outputs, errors, dry runs and logs leak no token or fragment of one.
 */
export const MIN_FRAGMENT = 8;

/** Every run of `n` characters of `secret`. */
export function fragments(secret: string, n = MIN_FRAGMENT): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= secret.length; i++) out.push(secret.slice(i, i + n));
  return out;
}

/** The first fragment of any of `secrets` found in `text`, or undefined. */
export function leakedFragment(text: string, secrets: readonly string[]): string | undefined {
  for (const secret of secrets) for (const f of fragments(secret)) if (text.includes(f)) return f;
  return undefined;
}

export function expectNoFragment(text: string, secrets: string | readonly string[], where: string): void {
  const f = leakedFragment(text, typeof secrets === 'string' ? [secrets] : secrets);
  if (f !== undefined) throw new Error(`${where}: fragment '${f}' of a secret in: ${text.slice(0, 2000)}`);
}
