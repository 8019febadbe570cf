// The consumer test (`npx projen test:consumer`, the last step of `npx projen build`): the npm tarball
// that package:js packed is installed into a fresh app the way a user installs it, the app in
// test/consumer/app/ is compiled against the installed declarations with strict tsc and synthesized,
// and the templates are checked. Then every public type, property and method that the installed .jsii
// assembly declares must be referenced by the app (api-coverage.ts), so the test grows with the API.
//
// Nothing may come from this repository's node_modules: tsc's file list and node's module cache are
// checked to stay inside the fresh app. The installs come from the npm cache `npm ci` filled
// (--prefer-offline), so the only network this needs is the npm registry, and little of it.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { findUnreferencedApi } from './api-coverage';
import { checkTemplates } from './templates';

const repo = path.resolve(__dirname, '..', '..');
const appDir = path.join(repo, '.tmp', 'consumer-app');
const phases: string[] = [];

function phase<T>(name: string, work: () => T): T {
  const started = Date.now();
  const result = work();
  phases.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd: appDir, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`consumer test: \`${command} ${args.join(' ')}\` failed:\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

/** The same versions the library is built and tested with, so the installs come from the npm cache. */
function installedVersion(name: string): string {
  return JSON.parse(fs.readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function packedTarball(): string {
  const dir = path.join(repo, 'dist', 'js');
  const tarballs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((file) => file.endsWith('.tgz')) : [];
  if (tarballs.length !== 1) {
    throw new Error(`consumer test: expected one tarball in dist/js (run \`npx projen package:js\` first), found ${JSON.stringify(tarballs)}`);
  }
  return path.join(dir, tarballs[0]);
}

function createApp(): void {
  fs.rmSync(appDir, { recursive: true, force: true });
  fs.mkdirSync(appDir, { recursive: true });
  fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ name: 'consumer-app', version: '0.0.0', private: true }, undefined, 2));
  fs.copyFileSync(path.join(__dirname, 'app', 'app.ts'), path.join(appDir, 'app.ts'));
  fs.writeFileSync(path.join(appDir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['es2022'],
      strict: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      noImplicitReturns: true,
      noImplicitOverride: true,
      noFallthroughCasesInSwitch: true,
      // aws-cdk-lib's own declarations are not this test's business; the package's are checked below.
      skipLibCheck: true,
      // Only the app's own node_modules/@types, never the repository's above it.
      typeRoots: ['./node_modules/@types'],
      outDir: 'out',
      rootDir: '.',
    },
    files: ['app.ts'],
  }, undefined, 2));
}

function install(tarball: string): void {
  const dependencies = ['aws-cdk-lib', 'constructs', 'typescript', '@types/node'].map((name) => `${name}@${installedVersion(name)}`);
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...dependencies]);
}

/** Files tsc or node loaded from outside the fresh app (the repository's node_modules, say). */
function outside(files: string[]): string[] {
  return files.filter((file) => file.trim() && !path.resolve(appDir, file.trim()).startsWith(appDir + path.sep));
}

function compile(): void {
  const tsc = path.join('node_modules', 'typescript', 'bin', 'tsc');
  const listed = run('node', [tsc, '-p', 'tsconfig.json', '--listFiles']).split('\n').filter((line) => line.trim());
  const strays = outside(listed);
  if (strays.length > 0) {
    throw new Error(`consumer test: tsc read files from outside the fresh app:\n${strays.join('\n')}`);
  }
  // The installed declarations themselves, which skipLibCheck leaves unchecked: a .d.ts that names a
  // type the package does not ship would otherwise turn into `any` without a word.
  const declarations = listed.filter((file) => file.includes(`${path.sep}node_modules${path.sep}cdk-neptune-graph-export${path.sep}`));
  fs.writeFileSync(path.join(appDir, 'tsconfig.declarations.json'), JSON.stringify({
    extends: './tsconfig.json',
    compilerOptions: { noEmit: true, skipLibCheck: false },
    files: declarations,
  }, undefined, 2));
  run('node', [tsc, '-p', 'tsconfig.declarations.json']);
}

function synthesize(): void {
  const hook = path.join(appDir, 'only-local-modules.js');
  fs.writeFileSync(hook, `process.on('exit', () => {
  const strays = Object.keys(require.cache).filter((file) => !file.startsWith(${JSON.stringify(appDir + path.sep)}));
  if (strays.length > 0) {
    console.error('modules loaded from outside the fresh app:\\n' + strays.join('\\n'));
    process.exitCode = 1;
  }
});
`);
  run('node', ['--require', hook, path.join('out', 'app.js')], { CDK_OUTDIR: path.join(appDir, 'cdk.out') });
}

const started = Date.now();
const tarball = packedTarball();
phase('create app', createApp);
phase(`npm install ${path.basename(tarball)}`, () => install(tarball));
phase('tsc --strict', compile);
phase('synth', synthesize);
phase('templates', () => checkTemplates(path.join(appDir, 'cdk.out')));
const unreferenced = phase('API coverage', () => findUnreferencedApi(appDir, 'cdk-neptune-graph-export', 'app.ts'));
console.log(`consumer test: ${phases.join(', ')}; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const note of unreferenced.notes) console.log(`consumer test: ${note}`);
if (unreferenced.missing.length > 0) {
  console.error(`consumer test: test/consumer/app/app.ts does not use these public API elements:\n  ${unreferenced.missing.join('\n  ')}`);
  process.exit(1);
}
console.log('consumer test: the installed package compiles, synthesizes and every public API element is used');
