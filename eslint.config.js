// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules that do I/O or read the clock: the pure core (contract decoding and projection) must not use them. */
const impureModules = [
  { group: ['node:*'], message: 'The pure core does no I/O: pass what it needs in as data.' },
  {
    group: ['kafkajs', 'rocksdb', '@nxtedition/rocksdb', '@databases/*', 'fastify', 'pino', 'prom-client'],
    message: 'The pure core does no I/O: adapters live in src/ingest, src/store, src/api and src/ops.',
  },
];

export default tseslint.config(
  { ignores: ['node_modules', 'data', '.local', 'coverage', 'schemas'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/projection/**/*.ts', 'src/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: impureModules }],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'The pure core reads no environment.' },
        { name: 'performance', message: 'The pure core reads no clock.' },
        { name: 'setTimeout', message: 'The pure core has no timers.' },
        { name: 'setInterval', message: 'The pure core has no timers.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'The pure core reads no clock: take time from the event.',
        },
        { object: 'Math', property: 'random', message: 'The pure core is deterministic.' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
