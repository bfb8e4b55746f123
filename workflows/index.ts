// Every workflow the pipeline worker registers.
export {};
export { decisionLogRetention } from './decision-log-retention';
export { factCleanup } from './fact-cleanup';
export { promotion } from './promotion';
export { impactAnalysis } from './impact';
