/**
 * Text that someone else wrote — a customer, a partner's API, a sender's body — printed on an
 * operator's terminal. A terminal acts on what it prints: an escape sequence can recolour, move the
 * cursor, clear the screen, retitle the window or set the clipboard; a carriage return or a
 * backspace overwrites what was printed before it; a bidi override reverses the order in which the
 * rest of the line is shown. Any of these can make the operator see something other than what
 * was written, so the CLIs pass every line through here before printing it.
 */

// ECMA-48 escape sequences, whole, in their 7-bit (ESC …) and 8-bit (C1) forms: control strings
// (OSC, DCS, SOS, PM, APC) up to their terminator, control sequences (CSI) up to their final
// byte, and the two-byte escapes (ESC c, ESC ( B, …). An unterminated string is left to the next
// step, which removes its introducer, so the terminal never enters it and nothing after it is lost.
const ESCAPE_SEQUENCE = new RegExp(
  [
    '(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)',
    '(?:\\x1b\\[|\\x9b)[0-?]*[ -/]*[@-~]',
    '\\x1b[ -/]*[0-~]',
  ].join('|'),
  'g',
);

/** C0 controls but tab and line feed, DEL, C1 controls; bidi embeddings, overrides and isolates. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** What a terminal or a pager may take for the end of a line. */
const LINE_BREAK = /\r\n|[\n\r\t\v\f\u0085\u2028\u2029]/g;

/**
 * `text` as it may be printed on a terminal: escape sequences and control characters removed
 * (tabs and line feeds kept unless `singleLine`), bidi controls removed. With `singleLine`, every
 * line break and tab becomes a space, for a table cell or a `Label: value` line, where a line
 * break would let the text print a row or a field of its own.
 */
export function forTerminal(text: string, options: { singleLine?: boolean } = {}): string {
  const plain = text.replace(ESCAPE_SEQUENCE, '').replace(/\r\n/g, '\n');
  return (options.singleLine ? plain.replace(LINE_BREAK, ' ') : plain).replace(CONTROL, '');
}

// JSON.stringify escapes C0 controls but leaves DEL, C1 controls and the Unicode line and bidi
// controls as they are; each of them can only stand inside a string, where \uXXXX means the same.
const JSON_UNSAFE = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `JSON.stringify(value, null, indent)`, with every character a terminal could act on escaped: the same JSON. */
export function jsonForTerminal(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
