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
  ],
  testTimeout: 60000,
};
