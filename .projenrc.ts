import { awscdk, javascript } from 'projen';

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
  github: false,
  release: false,
  depsUpgrade: false,
  devDeps: [
    '@aws-sdk/client-neptune-graph@3.1128.0',
    '@aws-sdk/client-sfn@^3',
    '@sinonjs/fake-timers@^15',
    '@aws-cdk/integ-tests-alpha@2.187.0-alpha.0',
    'aws-local-stepfunctions@3.0.0',
    'cdk-nag@^2',
    'esbuild',
  ],
  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testTimeout: 60_000,
    },
  },
  tsconfigDev: {
    compilerOptions: {},
    include: ['lambda/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts'],
  },
  gitignore: ['/cdk.out', '/examples/cdk.out', '/.tmp/', '/bench/out/'],
});

// The custom-resource handler. Its source lives in lambda/ and its esbuild bundle in
// assets/, which ships in the npm package (users never bundle anything at synth time).
new awscdk.LambdaFunction(project, {
  entrypoint: 'lambda/export-waiter.lambda.ts',
  constructFile: 'src/export-waiter-function.ts',
  constructName: 'ExportWaiterFunction',
  cdkDeps: project.cdkDeps,
  runtime: awscdk.LambdaRuntime.NODEJS_22_X,
  bundlingOptions: {
    // The Lambda Node.js 22 runtime ships AWS SDK v3; the handler only needs its SFN client.
    externals: ['@aws-sdk/*'],
  },
});
project.addPackageIgnore('/lambda/');
project.addPackageIgnore('/examples/');
project.addPackageIgnore('/bench/');
project.addPackageIgnore('/docs/');
project.addPackageIgnore('/.ci/');

new javascript.TypescriptConfig(project, {
  fileName: 'lambda/tsconfig.json',
  include: ['**/*.ts'],
  compilerOptions: {
    target: 'ES2022',
    module: 'CommonJS',
    lib: ['es2022'],
    strict: true,
    noEmit: true,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
  },
});

project.synth();
