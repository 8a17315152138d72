// @ts-check
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/**
 * The line that matters most: workflow code runs in Temporal's deterministic sandbox, so
 * `workflows/**` may import only @temporalio/workflow (and @temporalio/common's pure helpers),
 * its own files and type-only imports. Node builtins and I/O libraries are banned there, as in
 * temporalio/samples-typescript's .shared/.eslintrc.js.
 */
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', 'coverage/**', 'src/receiver/inbox/**/*.js'] },
  ...tseslint.configs.recommended,
  {
    // Prettier wraps code at 140 but cannot break a string, template literal, comment or regex:
    // this catches those, so that no line is past the width (issue 12). Nothing is exempt.
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', { code: 140 }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code runs in the deterministic sandbox: no Node builtins. Move I/O to an activity.',
          })),
          patterns: [
            {
              group: [
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                'express',
                'pg',
                'kysely',
                'better-sqlite3',
                'nodemailer',
                'undici',
                'zod',
              ],
              message:
                'Workflow code may import only @temporalio/workflow, @temporalio/common and pure helpers. ' +
                'Use `import type` for activity types.',
              allowTypeImports: true,
            },
            {
              // Allowed at run time: pure modules that import nothing with side effects (the
              // handoff permissions are one decision shared by the workflow and the API; which
              // Shopify order an inquiry names decides whether it waits on the store's queue). The
              // same from workflows/contracts/, one folder further down.
              group: ['../', '../../'].flatMap((up) => [
                `${up}src/*`,
                `!${up}src/events`,
                `${up}src/events/*`,
                `!${up}src/events/envelope`,
                `!${up}src/agent`,
                `${up}src/agent/*`,
                `!${up}src/agent/types`,
                `!${up}src/handoff`,
                `${up}src/handoff/*`,
                `!${up}src/handoff/permissions`,
                `!${up}src/providers`,
                `${up}src/providers/*`,
                `!${up}src/providers/shopify`,
                `${up}src/providers/shopify/*`,
                `!${up}src/providers/shopify/order-facts`,
                `${up}activities`,
                `${up}activities/*`,
              ]),
              message: 'From outside workflows/, import only types (`import type`).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
