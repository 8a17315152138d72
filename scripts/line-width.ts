/**
 * The line-width check for what ESLint does not read (`npm run lint` runs it after ESLint, whose
 * @stylistic/max-len covers the code): the inbox's HTML pages. Prettier formats them but cannot
 * break a long string, attribute or inline-script literal, so a line past the width would pass it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const width: number = JSON.parse(readFileSync('.prettierrc.json', 'utf8')).printWidth;
const dir = join('src', 'receiver', 'inbox');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.html'))
  .map((f) => join(dir, f));

const long = files.flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (line.length > width ? [`${file}:${i + 1}: ${line.length} characters (at most ${width})`] : [])),
);
for (const line of long) console.error(line);
if (long.length > 0) process.exit(1);
