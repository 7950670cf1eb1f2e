/**
 * The secret scan run over every end-to-end test: the spawn helpers (./server.ts) register every
 * secret-looking value they put in a server's environment, and every tool result, JSON-RPC error,
 * raw HTTP body and stdout/stderr line of that process is searched for the secret and for any
 * fragment of it of FRAGMENT_LENGTH characters or more. A finding fails the test that produced it
 * (at the call that returned it, or in the afterEach of ./setup.ts for output lines) with a
 * message that names the variable and the length found, never the secret itself.
 *
 * Why 8 characters: 8 characters of a random token (base64url: 48 bits; hex: 32 bits) cut a
 * brute-force search by that much, so they are a real leak, while a given 8-character window of
 * such a token turning up by chance in a test run's few MB of output is vanishingly unlikely.
 * Shorter windows would start matching ordinary text (the fake tokens' prefixes, ids, hashes).
 * The test tokens are therefore long and random-looking (see test/fakes): a value shorter than
 * 8 characters cannot be told from ordinary text and is not scanned.
 *
 * Cost: each secret contributes (length - 7) windows to one Map; a text is scanned in one pass,
 * looking a window up only where its first two characters begin some window (a 64 K-entry table),
 * so scanning costs about one table read per character.
 */

/** Shortest run of a secret's characters that counts as a leak. */
export const FRAGMENT_LENGTH = 8;

/** Env var names whose values are secrets: *_TOKEN, *_KEY, *_SECRET, *PASSWORD and the like. */
export const SECRET_VAR = /TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|(^|_)(API_?|ACCESS_?|PRIVATE_?)?KEY(_|$)/i;

/** Query parameters of a configured URL whose values are secrets (?api_token=..., ?key=...). */
const SECRET_PARAM = /token|secret|password|passwd|key|auth|signature|sig/i;

export interface Finding {
  /** Name of the secret (its env var). */
  name: string;
  /** How many consecutive characters of the secret were found, and its length. */
  length: number;
  secretLength: number;
  /** Offset in the scanned text. */
  offset: number;
}

export class SecretLeakError extends Error {
  override name = 'SecretLeakError';
}

/** What this test file's scans covered, for the figure printed after `npm test` (./global-setup.ts). */
export const scanStats = {
  /** Server processes whose environment held at least one secret (counted by ./server.ts). */
  processes: 0,
  /** Distinct secret values registered. */
  secrets: new Set<string>(),
  /** JSON-RPC results and errors, raw HTTP answers, output lines, one-shot outputs. */
  texts: 0,
  chars: 0,
  findings: 0,
};

interface Entry {
  secret: number;
  /** Offset of the window in the secret (its first occurrence). */
  at: number;
}

const pairKey = (text: string, i: number) => ((text.charCodeAt(i) & 0xff) << 8) | (text.charCodeAt(i + 1) & 0xff);

/** What MCPB leaves in place of an optional setting the user left empty: a placeholder, not a secret. */
const UNSET_TEMPLATE = /^\$\{user_config\.[A-Za-z0-9_]+\}$/;

export class SecretScanner {
  private readonly list: Array<{ name: string; value: string }> = [];
  private readonly windows = new Map<string, Entry>();
  private readonly pairs = new Uint8Array(65536);

  /** Registers a secret; values shorter than FRAGMENT_LENGTH are ignored (see above). */
  add(name: string, value: string): void {
    if (value.length < FRAGMENT_LENGTH || this.list.some((s) => s.value === value)) return;
    const secret = this.list.push({ name, value }) - 1;
    scanStats.secrets.add(value);
    for (let at = 0; at + FRAGMENT_LENGTH <= value.length; at++) {
      const w = value.slice(at, at + FRAGMENT_LENGTH);
      if (!this.windows.has(w)) this.windows.set(w, { secret, at });
      this.pairs[pairKey(w, 0)] = 1;
    }
  }

  /** Registers every secret of an environment: by variable name, and credentials inside URLs. */
  addEnv(env: Record<string, string | undefined>): this {
    for (const [name, value] of Object.entries(env)) {
      // Unset: empty, or a Claude Desktop extension's unreplaced ${user_config.x} template.
      if (!value || UNSET_TEMPLATE.test(value)) continue;
      if (SECRET_VAR.test(name)) this.add(name, value);
      else if (/^https?:\/\//i.test(value)) this.addUrl(name, value);
    }
    return this;
  }

  /** The password of a URL's userinfo and the values of secret-named query parameters. */
  addUrl(name: string, value: string): void {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return;
    }
    if (url.password) this.add(`${name} (password)`, decodeURIComponent(url.password));
    for (const [param, v] of url.searchParams) if (SECRET_PARAM.test(param)) this.add(`${name} (${param})`, v);
  }

  get size(): number {
    return this.list.length;
  }

  names(): string[] {
    return this.list.map((s) => s.name);
  }

  /** Every maximal run of >= FRAGMENT_LENGTH characters of a registered secret found in `text`. */
  scan(text: string): Finding[] {
    const found: Finding[] = [];
    if (!this.list.length) return found;
    scanStats.texts++;
    scanStats.chars += text.length;
    const last = text.length - FRAGMENT_LENGTH;
    for (let i = 0; i <= last; i++) {
      if (!this.pairs[pairKey(text, i)]) continue;
      const hit = this.windows.get(text.slice(i, i + FRAGMENT_LENGTH));
      if (!hit) continue;
      const { value, name } = this.list[hit.secret];
      // Grow the match both ways: report the whole run, once.
      let start = i;
      let from = hit.at;
      while (start > 0 && from > 0 && text[start - 1] === value[from - 1]) {
        start--;
        from--;
      }
      let end = i + FRAGMENT_LENGTH;
      let to = hit.at + FRAGMENT_LENGTH;
      while (end < text.length && to < value.length && text[end] === value[to]) {
        end++;
        to++;
      }
      if (!found.some((f) => f.offset === start)) {
        found.push({ name, length: end - start, secretLength: value.length, offset: start });
      }
      i = end - 1; // the loop's i++ moves past this run
    }
    scanStats.findings += found.length;
    return found;
  }

  /** `text` with every run of a secret replaced by "[N chars of NAME]". */
  mask(text: string, findings: Finding[] = this.scan(text), from = 0, to = text.length): string {
    let out = '';
    let i = Math.max(0, from);
    const end = Math.min(text.length, to);
    while (i < end) {
      const f = findings.find((x) => i >= x.offset && i < x.offset + x.length);
      if (f) {
        out += `[${f.length} chars of ${f.name}]`;
        i = f.offset + f.length;
      } else {
        out += text[i++];
      }
    }
    return out;
  }

  /**
   * A sentence for each finding, with up to 24 characters of context on either side in which
   * every found run is masked (and `where` is masked too): the message can be printed without
   * leaking what it reports.
   */
  describe(text: string, findings: Finding[], where: string): string {
    const place = this.mask(where);
    return findings
      .map(
        (f) =>
          `${f.length === f.secretLength ? 'the whole' : `${f.length} of ${f.secretLength} characters of the`} secret ${f.name} ` +
          `in ${place} at offset ${f.offset}: ${JSON.stringify(this.mask(text, findings, f.offset - 24, f.offset + f.length + 24))}`,
      )
      .join('; ');
  }

  /** Throws a SecretLeakError naming what was found where, or returns. */
  check(text: string, where: string): void {
    const findings = this.scan(text);
    if (findings.length) throw new SecretLeakError(`Secret leak: ${this.describe(text, findings, where)}.`);
  }

  /** Checks every string (keys included) of a JSON-like value, e.g. a JSON-RPC result. */
  checkValue(value: unknown, where: string): void {
    for (const [path, text] of strings(value)) this.check(text, `${where} ${path || '(value)'}`);
  }
}

// ---------------------------------------------------------------------------------------------
// One-off checks for tests that hold the secret themselves (contract and fault tests, in process).

export const MIN_FRAGMENT = FRAGMENT_LENGTH;

/** Every run of `n` characters of `secret`. */
export function fragments(secret: string, n = MIN_FRAGMENT): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= secret.length; i++) out.push(secret.slice(i, i + n));
  return out;
}

function scannerOf(secrets: string | readonly string[]): SecretScanner {
  const scanner = new SecretScanner();
  for (const [i, secret] of (typeof secrets === 'string' ? [secrets] : secrets).entries()) scanner.add(`secret #${i + 1}`, secret);
  return scanner;
}

/** The first fragment (FRAGMENT_LENGTH characters) of any of `secrets` found in `text`, or undefined. */
export function leakedFragment(text: string, secrets: readonly string[]): string | undefined {
  const [f] = scannerOf(secrets).scan(text);
  return f && text.slice(f.offset, f.offset + FRAGMENT_LENGTH);
}

/** Throws a SecretLeakError (which masks what it found) if `text` holds a fragment of a secret. */
export function expectNoFragment(text: string, secrets: string | readonly string[], where: string): void {
  scannerOf(secrets).check(text, where);
}

/** [path, string] for every string and key in a JSON-like value. */
function strings(value: unknown, path = '', out: Array<[string, string]> = [], depth = 0): Array<[string, string]> {
  if (typeof value === 'string') out.push([path, value]);
  else if (depth > 200 || value === null || typeof value !== 'object') return out;
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${path}[${i}]`, out, depth + 1));
  else {
    for (const [k, v] of Object.entries(value)) {
      out.push([`${path}{key}`, k]);
      strings(v, path ? `${path}.${k}` : k, out, depth + 1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Findings in output streams: they arrive between calls, so they are kept until the current
// test's afterEach (test/helpers/setup.ts) or the next call on a client of the same test file.

const pending: string[] = [];
let openStreams = 0;

/** How many watched output streams are still open (their last lines may still be in a pipe). */
export const openWatchedStreams = (): number => openStreams;

/** Unreported findings from output streams, cleared. */
export function takeLeaks(): string[] {
  return pending.splice(0);
}

/** Throws if an output stream leaked since the last check. */
export function assertNoLeaks(): void {
  const leaks = takeLeaks();
  if (leaks.length) throw new SecretLeakError(`Secret leak: ${leaks.join('; ')}.`);
}

/**
 * Scans a stream line by line (a secret split across two chunks stays in one line). `flush()`
 * scans an unfinished last line, e.g. when the process has exited.
 */
export function watchLines(
  stream: NodeJS.ReadableStream | null | undefined,
  scanner: SecretScanner,
  where: string,
): { flush(): void } {
  let buf = '';
  let lineNo = 0;
  const scanLine = (line: string) => {
    lineNo++;
    const findings = scanner.scan(line);
    if (findings.length) pending.push(scanner.describe(line, findings, `${where} line ${lineNo}`));
  };
  if (scanner.size && stream) {
    openStreams++;
    let open = true;
    const closed = () => {
      if (open) openStreams--;
      open = false;
    };
    stream.once('end', closed);
    stream.once('close', closed);
    stream.on('data', (chunk: Buffer | string) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        scanLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
  }
  return {
    flush() {
      if (buf) scanLine(buf);
      buf = '';
    },
  };
}
