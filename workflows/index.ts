// Every workflow the pipeline worker registers.
export {};
export { factCleanup } from './fact-cleanup';
export { promotion } from './promotion';
export { impactAnalysis } from './impact';
