import { describe, expect, it } from 'vitest';
import { forTerminal, jsonForTerminal } from '../src/terminal';

// What a customer, a partner or a sender wrote, before an operator's terminal prints it.
describe('forTerminal', () => {
  it.each([
    ['colour and cursor sequences, whole', 'a\x1b[31mred\x1b[0m \x1b[2J\x1b[1;1Hb', 'ared b'],
    ['an 8-bit CSI', 'a\x9b2Jb', 'ab'],
    ['an OSC window title ended by BEL', 'a\x1b]0;owned\x07b', 'ab'],
    ['an OSC 8 hyperlink ended by ST, its text kept', '\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\', 'click'],
    ['a clipboard write (OSC 52)', 'x\x1b]52;c;ZXZpbA==\x07y', 'xy'],
    ['two-byte escapes (reset, charset)', 'a\x1bcb\x1b(Bc', 'abc'],
    ['an unterminated OSC: only its introducer goes, the text after it stays', 'a\x1b]0;title and more', 'a0;title and more'],
    ['a carriage return that would overwrite the line', 'refund denied\rrefund APPROVED', 'refund deniedrefund APPROVED'],
    ['backspaces, BEL, NUL, DEL, C1', 'a\b\b\x07\x00\x7f\x85\x9cb', 'ab'],
    ['bidi overrides and isolates', 'pay \u202eSSAP\u202c and \u2067x\u2069', 'pay SSAP and x'],
  ])('removes %s', (_what, input, expected) => {
    expect(forTerminal(input)).toBe(expected);
  });

  it('keeps line feeds and tabs, turns CRLF into LF, and leaves ordinary text of any script alone', () => {
    expect(forTerminal('line one\r\nline two\n\tindented')).toBe('line one\nline two\n\tindented');
    const text = 'Überweisung fehlgeschlagen – שלום مرحبا 你好 🙂 "quotes" <tags> & 100%';
    expect(forTerminal(text)).toBe(text);
  });

  it('on one line, every line break and tab is a space, so the text cannot print a row or a field of its own', () => {
    expect(forTerminal('CUST-1\nStatus:     resolved', { singleLine: true })).toBe('CUST-1 Status:     resolved');
    expect(forTerminal('a\r\nb\rc\td\u2028e\u2029f\u0085g\vh\fi', { singleLine: true })).toBe('a b c d e f g h i');
  });

  it('leaves nothing a terminal acts on, whatever the input', () => {
    const all = Array.from({ length: 0x2070 }, (_, i) => String.fromCharCode(i)).join('');
    for (const singleLine of [false, true]) {
      const shown = forTerminal(`\x1b[${all}\x1b]${all}`, { singleLine });
      expect(shown).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      if (singleLine) expect(shown).not.toMatch(/[\n\t]/);
    }
  });
});

describe('jsonForTerminal', () => {
  it('is the same JSON, with DEL, C1, line separators and bidi controls escaped', () => {
    const value = { text: 'a\x1b[2J\u202eb\x9bc\u2028d\x7f', n: 1 };
    const json = jsonForTerminal(value, 2);
    expect(JSON.parse(json)).toEqual(value);
    expect(json).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(json).toContain('\\u001b[2J\\u202eb\\u009bc\\u2028d\\u007f');
  });
});
