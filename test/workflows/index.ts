// The workflow bundle for tests: every product workflow plus test-only ones.
export * from '../../workflows';
export { ping } from './ping';
