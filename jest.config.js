// Jest runs TypeScript through SWC (type-checking is `npm run typecheck`).
// Node runs with --experimental-vm-modules so PGlite's dynamic import works under Jest.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
  },
];

const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', roots: ['<rootDir>/src'], testRegex: '\\.spec\\.ts$' },
    {
      ...common,
      displayName: 'db',
      roots: ['<rootDir>/test'],
      testRegex: '\\.e2e-spec\\.ts$',
      slowTestThreshold: 30,
    },
    // Several Tend processes on one database: only a PostgreSQL server can do that (the
    // embedded engine lives in one process), so these suites exist only when
    // TEST_DATABASE_URL names one (`npm run test:db`, which `.ci/run` runs).
    ...(process.env.TEST_DATABASE_URL
      ? [{ ...common, displayName: 'server', roots: ['<rootDir>/test'], testRegex: '\\.server-spec\\.ts$' }]
      : []),
  ],
  testTimeout: 60000,
};
