export * from './export-task-result';
export * from './export-task-waiter';
export * from './export-options';
export * from './graph-export';
