export * from './export-task-waiter';
