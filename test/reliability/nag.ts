/**
 * cdk-nag figures for the report: AwsSolutions and Serverless checks on a stack with one default
 * waiter and on one with every option turned on, counted the way test/nag.test.ts counts them
 * (unsuppressed errors and warnings of the two packs).
 */
import { defaultStack, everyOptionStack, findings, graphExportStack } from '../nag-stacks';

export interface NagFigures {
  readonly stack: string;
  readonly errors: string[];
  readonly warnings: string[];
}

export function nagFigures(): NagFigures[] {
  const figures = (stack: string, build: () => import('aws-cdk-lib').Stack, ignore?: RegExp) => {
    const keep = (list: string[]) => (ignore ? list.filter((f) => !ignore.test(f)) : list);
    const built = build();
    return { stack, errors: keep(findings(built, 'Error')), warnings: keep(findings(built, 'Warning')) };
  };
  return [
    figures('one default waiter', defaultStack),
    figures('every option turned on', everyOptionStack),
    // The access-log bucket in that stack is the user's own resource, not the library's.
    figures('GraphExports (role, cancel, tags, long wait)', () => graphExportStack(), /\/AccessLogs\//),
  ];
}
