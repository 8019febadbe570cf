export * from './export-task-result';
export * from './export-task-waiter';
export * from './export-destination';
export * from './export-filter';
export * from './export-format';
export * from './graph-export';
export * from './export-task-errors';
export * from './wait-for-export-task';
