// Type-aware lint for the whole project (npm run lint, part of npm test).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'generated/', 'node_modules/', 'coverage/', '.scratch*/', 'sdk/dist/', 'sdk/src/types.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Template literals with numbers are how messages are built here; the value is never an object.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // A non-null assertion needs a reason beside it: the rule stays on; disable per line with the reason.
      '@typescript-eslint/no-non-null-assertion': 'error',
      // Store implementations are async to honour the Store interface even when they never wait.
      '@typescript-eslint/require-await': 'off',
      // `() => void work()` and `(x) => list.push(x)` in callbacks are clear enough.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // A leading underscore marks a value deliberately left unused (a destructured-away member).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Plain scripts served to the browser as they are.
    files: ['src/web/public/**/*.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly' } },
  },
  {
    // Benchmarks are measuring scripts, not product paths: a missing value should
    // crash the run loudly, and the JSON they read is the service's own answers.
    files: ['bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    // Store methods are swapped for counting wrappers in tests; they never rely on `this` from the caller.
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    files: ['tests/**/*.ts'],
    rules: {
      // In a test a wrong assumption fails the test, which is what a test is for.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // afterAll guards like `running?.close()` cover a beforeAll that failed, which the declared type cannot say.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
);
