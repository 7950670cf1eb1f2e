/**
 * SHA-256 of a text. node:crypto is loaded on the first hash, not at start-up: a start hashes
 * nothing, and loading it is a few milliseconds of every launch.
 */
export function sha256(text: string, encoding: 'hex' | 'base64url'): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(text).digest(encoding);
}
